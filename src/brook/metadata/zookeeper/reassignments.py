"""Partition reassignment on the controller (KIP-455, Kafka's ZooKeeper layout): operators' requests, and the
move of one partition's assignment and state together under the controller's term. The decisions themselves are
pure (metadata/reassignment.py); here they are applied to the znodes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kazoo.exceptions import BadVersionError, NoNodeError

from brook.common.errors import ErrorCode
from brook.metadata import reassignment as moves
from brook.metadata.zookeeper.fencing import Term
from brook.metadata.zookeeper.layout import (
    dumps,
    loads,
    partition_state_doc,
    partition_state_path,
    reassigning,
    set_reassigning,
    topic_path,
)

__all__ = [
    "MOVE_ATTEMPTS",
    "Move",
    "ReassignRequest",
    "ReassignmentResult",
    "cancel_move",
    "complete_move",
    "move_partition",
    "start_move",
]

logger = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]

# (error code, message) of one partition's AlterPartitionReassignments
ReassignmentResult = tuple[int, str | None]


@dataclass
class ReassignRequest:
    targets: dict[TopicPartitionKey, tuple[int, ...] | None]  # None: cancel
    allow_size_change: bool
    results: dict[TopicPartitionKey, ReassignmentResult] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


# (assignment, leader, leader epoch, ISR) -> what to write, why not, or None to leave the partition be
Move = Callable[[moves.Reassignment, int, int, tuple[int, ...]], "moves.PartitionMove | moves.Refusal | None"]

MOVE_ATTEMPTS = 20  # compare-and-set rounds lost to leaders changing the ISR meanwhile, before giving up


def start_move(target: tuple[int, ...], live: set[int], allow_size_change: bool) -> Move:
    """Move to `target` (completing at once if its replicas are all in the ISR already)."""

    def decide(
        current: moves.Reassignment, leader: int, epoch: int, isr: tuple[int, ...]
    ) -> moves.PartitionMove | moves.Refusal | None:
        refused = moves.validate_target(target, live, len(current.original), allow_size_change)
        if refused is not None:
            return refused
        started = moves.start(current, target)
        return moves.move_to(moves.completion(started, isr) or started, leader, epoch, isr, live)

    return decide


def cancel_move(live: set[int]) -> Move:
    """Back to the original replicas (NO_REASSIGNMENT_IN_PROGRESS if there is no reassignment)."""

    def decide(
        current: moves.Reassignment, leader: int, epoch: int, isr: tuple[int, ...]
    ) -> moves.PartitionMove | moves.Refusal | None:
        reverted = moves.cancel(current)
        if isinstance(reverted, tuple):
            return reverted
        return moves.move_to(reverted, leader, epoch, isr, live)

    return decide


def complete_move(live: set[int]) -> Move:
    """Finish a reassignment whose target replicas are all in the ISR; leave it be otherwise."""

    def decide(
        current: moves.Reassignment, leader: int, epoch: int, isr: tuple[int, ...]
    ) -> moves.PartitionMove | moves.Refusal | None:
        done = moves.completion(current, isr)
        return None if done is None else moves.move_to(done, leader, epoch, isr, live)

    return decide


def move_partition(term: Term, name: str, partition: int, decide: Move) -> tuple[ReassignmentResult, bool]:
    """Apply `decide` to a partition's assignment and state together: one transaction under the controller
    epoch, compare-and-set on both znodes (decided again on what is there when a leader changed the ISR
    meanwhile). The state znode is written even when unchanged, so a leader's ISR proposal read before
    the move fails its compare-and-set and is made again on the new replicas. Returns the partition's result
    and whether the move gave it a new leader."""
    path, state_path = topic_path(name), partition_state_path(name, partition)
    for _ in range(MOVE_ATTEMPTS):
        try:
            data, stat = term.zk.get(path)
        except NoNodeError:
            return (ErrorCode.unknown_topic_or_partition, "The topic does not exist."), False
        doc = loads(data) or {}
        replicas = doc.get("partitions", {}).get(str(partition))
        if replicas is None:
            return (ErrorCode.unknown_topic_or_partition, "The partition does not exist."), False
        adding, removing = reassigning(doc, partition)
        current = moves.Reassignment(tuple(replicas), adding, removing)
        try:
            state_data, state_stat = term.zk.get(state_path)
            state = loads(state_data) or {}
        except NoNodeError:
            state, state_stat = {}, None
        leader, epoch = int(state.get("leader", -1)), int(state.get("leader_epoch", -1))
        isr = tuple(state.get("isr", ()))
        decided = decide(current, leader, epoch, isr)
        if decided is None:
            return (ErrorCode.none, None), False
        if isinstance(decided, tuple):
            return decided, False
        target = decided.assignment
        set_reassigning(doc, partition, target.replicas, target.adding, target.removing)
        state_doc = partition_state_doc(decided.leader, decided.leader_epoch, decided.isr, term.epoch)

        topic_data = dumps(doc)

        def ops(txn: Any) -> None:
            txn.set_data(path, topic_data, version=stat.version)  # noqa: B023 (used before the loop moves on)
            if state_stat is not None:  # noqa: B023
                txn.set_data(state_path, state_doc, version=state_stat.version)  # noqa: B023

        results = term.commit(ops)
        failed = [r for r in results if isinstance(r, Exception)]
        if any(isinstance(r, BadVersionError) for r in failed):
            continue  # a leader changed the ISR, or a topic change landed: decide again
        if any(isinstance(r, NoNodeError) for r in failed):
            return (ErrorCode.unknown_topic_or_partition, "The partition does not exist."), False
        if failed:
            raise failed[0]
        logger.info(
            "partition reassignment %s topic=%s partition=%d replicas=%s adding=%s removing=%s leader=%d "
            "epoch=%d isr=%s",
            "in progress" if target.in_progress else "done",
            name,
            partition,
            list(target.replicas),
            list(target.adding),
            list(target.removing),
            decided.leader,
            decided.leader_epoch,
            list(decided.isr),
        )
        return (ErrorCode.none, None), decided.leader >= 0 and decided.leader != leader
    return (ErrorCode.request_timed_out, "The partition's state kept changing; try again."), False
