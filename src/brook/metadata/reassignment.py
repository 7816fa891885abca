"""Partition reassignment (KIP-455): the pure decisions, as Kafka's controller makes them.

A partition being moved from its original replicas (ORS) to target replicas (TRS) holds, in its assignment,
every replica of both: RS = (TRS + ORS) without repeats, target first, with `adding` = TRS - ORS and
`removing` = ORS - TRS beside it (Kafka's topic znode v2: "adding_replicas", "removing_replicas"). So the
original and the target can always be read back from the three lists:

    original = RS without `adding`      target = RS without `removing`

The new replicas fetch from the leader like any follower and join the ISR once caught up. When every target
replica is in the ISR, the reassignment completes: replicas = TRS, the ISR keeps only target replicas, and a
leader outside TRS hands over to the first target replica in the ISR (a new leader epoch); the removed
replicas then drop their copies. Cancelling goes back to the original replicas the same way.

Every change keeps the leader if it stays a replica, else elects the first replica (in assignment order) that
is in the ISR and alive; one that would leave no such replica is refused, so no change ever needs an
election from outside the ISR: every acknowledged record is on each ISR member, and the ISR only shrinks
here, so whatever leads afterwards holds them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from brook.common.errors import ErrorCode

__all__ = [
    "PartitionMove",
    "Refusal",
    "Reassignment",
    "cancel",
    "completion",
    "move_to",
    "start",
    "validate_target",
]

# (error code, message): why a request for one partition is refused
Refusal = tuple[ErrorCode, str]


@dataclass(frozen=True, slots=True)
class Reassignment:
    """A partition's assignment: its replicas, and the replicas being added and removed (both empty when no
    reassignment is in progress)."""

    replicas: tuple[int, ...]
    adding: tuple[int, ...] = ()
    removing: tuple[int, ...] = ()

    @property
    def in_progress(self) -> bool:
        return bool(self.adding or self.removing)

    @property
    def original(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.adding)

    @property
    def target(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.removing)


@dataclass(frozen=True, slots=True)
class PartitionMove:
    """What to write for one partition: its assignment, and its state (leader, leader epoch, ISR)."""

    assignment: Reassignment
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]


def validate_target(
    target: tuple[int, ...], registered: Iterable[int], current_size: int, allow_size_change: bool
) -> Refusal | None:
    """Kafka's checks of a manual assignment: non-empty, no repeats, registered brokers only; and with
    allow_replication_factor_change=false (AlterPartitionReassignments v1), the same number of replicas."""
    if not target:
        return ErrorCode.invalid_replica_assignment, "The replica list cannot be empty."
    if len(set(target)) != len(target):
        return ErrorCode.invalid_replica_assignment, f"The replica list {list(target)} contains duplicates."
    known = set(registered)
    for broker in target:
        if broker not in known:
            return (
                ErrorCode.invalid_replica_assignment,
                f"The replica list {list(target)} includes broker {broker}, but no such broker is registered.",
            )
    if not allow_size_change and len(target) != current_size:
        return (
            ErrorCode.invalid_replication_factor,
            f"The replication factor is changed from {current_size} to {len(target)}, "
            "but allow_replication_factor_change is false.",
        )
    return None


def start(current: Reassignment, target: tuple[int, ...]) -> Reassignment:
    """The assignment while moving to `target`. A reassignment already in progress is replaced: its original
    replicas stay the original, replicas it was adding that the new target drops are dropped at once."""
    original = current.original
    replicas = tuple(dict.fromkeys((*target, *original)))
    return Reassignment(
        replicas,
        adding=tuple(r for r in target if r not in original),
        removing=tuple(r for r in original if r not in target),
    )


def cancel(current: Reassignment) -> Reassignment | Refusal:
    """Back to the original replicas; NO_REASSIGNMENT_IN_PROGRESS when there is nothing to cancel."""
    if not current.in_progress:
        return ErrorCode.no_reassignment_in_progress, "No reassignment is in progress for this partition."
    return Reassignment(current.original)


def completion(current: Reassignment, isr: tuple[int, ...]) -> Reassignment | None:
    """The final assignment once every target replica is in the ISR; None while one is not (or nothing is
    in progress)."""
    if not current.in_progress:
        return None
    target = current.target
    if not all(r in isr for r in target):
        return None
    return Reassignment(target)


def move_to(
    assignment: Reassignment, leader: int, leader_epoch: int, isr: tuple[int, ...], live: Iterable[int]
) -> PartitionMove | Refusal:
    """The partition's state once its replicas are `assignment.replicas`: the ISR keeps only those; the leader
    stays if it is one of them, else the first of them in the ISR and alive leads in the next epoch. Refused
    when the partition would be left with no ISR member (or, needing a leader, none alive in the ISR)."""
    replicas = assignment.replicas
    new_isr = tuple(r for r in isr if r in replicas)
    if not new_isr and isr:
        return (
            ErrorCode.invalid_replica_assignment,
            f"None of the replicas {list(replicas)} is in the ISR {list(isr)}: the partition would lose its data.",
        )
    if leader in replicas or leader < 0:
        return PartitionMove(assignment, leader, leader_epoch, new_isr)
    alive = set(live)
    candidates = [r for r in replicas if r in new_isr and r in alive]
    if not candidates:
        return (
            ErrorCode.invalid_replica_assignment,
            f"No replica of {list(replicas)} is both alive and in the ISR {list(isr)} to take over leadership.",
        )
    return PartitionMove(assignment, candidates[0], leader_epoch + 1, new_isr)
