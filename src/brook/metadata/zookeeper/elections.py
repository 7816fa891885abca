"""Leader elections on the controller: each applies a pure decision (decisions.py) to one partition's state znode
under the controller's term, and operators' ElectLeaders requests (PREFERRED, UNCLEAN) are served one partition at
a time as Kafka's processReplicaLeaderElection does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from kazoo.exceptions import BadVersionError, NoNodeError

from brook.common.errors import ErrorCode
from brook.metadata.api import PREFERRED_ELECTION, ElectionResult
from brook.metadata.zookeeper.decisions import Decision, PartitionView, preferred_leader, unclean_leader
from brook.metadata.zookeeper.fencing import Term
from brook.metadata.zookeeper.layout import loads, partition_state_doc, partition_state_path

__all__ = [
    "Decide",
    "ElectionRequest",
    "StateOutcome",
    "decide_state",
    "preferred_of",
    "serve_election",
    "unclean_of",
]

logger = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]


@dataclass
class ElectionRequest:
    partitions: list[TopicPartitionKey] | None  # None: every partition
    election_type: int
    results: dict[TopicPartitionKey, ElectionResult] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


class StateOutcome(NamedTuple):
    """A partition's state after a decision: its leader and ISR, whether the znode was written, and whether
    that gave it a new leader (from outside the old ISR: an unclean election)."""

    leader: int
    changed: bool
    isr: tuple[int, ...]
    elected: bool = False
    unclean: bool = False


# (leader, leader_epoch, isr, mzxid of the state znode) -> the new state, or None to leave it be
Decide = Callable[[int, int, tuple[int, ...], int], Decision | None]


def preferred_of(replicas: tuple[int, ...], live: set[int]) -> Decide:
    return lambda leader, epoch, isr, _zxid: preferred_leader(replicas, leader, epoch, isr, live)


def unclean_of(replicas: tuple[int, ...], live: set[int]) -> Decide:
    return lambda leader, epoch, isr, _zxid: unclean_leader(replicas, leader, epoch, isr, live)


def decide_state(
    term: Term, name: str, partition: int, decide: Decide, *, unclean: bool = False
) -> StateOutcome | None:
    """Apply `decide` to the partition's state znode (compare-and-set under the controller epoch, decided
    again on what is there when another writer won). Returns the state afterwards, or None when the partition
    has no state znode."""
    path = partition_state_path(name, partition)
    while True:
        try:
            data, stat = term.zk.get(path)
        except NoNodeError:
            return None
        state = loads(data)
        if state is None:
            return None
        old_isr = tuple(state["isr"])
        decision = decide(int(state["leader"]), int(state["leader_epoch"]), old_isr, stat.mzxid)
        if decision is None:
            return StateOutcome(int(state["leader"]), False, old_isr)
        leader, leader_epoch, isr = decision
        new_state = partition_state_doc(leader, leader_epoch, isr, term.epoch)
        result = term.set(path, new_state, stat.version)
        if isinstance(result, BadVersionError):
            continue  # the leader changed the ISR meanwhile: decide again on what is there now
        if isinstance(result, NoNodeError):
            return None
        if isinstance(result, Exception):
            raise result
        elected = leader >= 0 and leader != int(state["leader"])
        logger.info(
            "partition state changed by controller topic=%s partition=%d leader=%d epoch=%d isr=%s%s",
            name,
            partition,
            leader,
            leader_epoch,
            list(isr),
            " (unclean election)" if unclean and leader >= 0 and leader not in old_isr else "",
        )
        return StateOutcome(leader, True, isr, elected, elected and leader not in old_isr)


def serve_election(
    decide_with: Callable[[str, int, Decide], StateOutcome | None],
    tp: TopicPartitionKey,
    views: dict[TopicPartitionKey, PartitionView],
    live: set[int],
    deleting: set[str],
    election_type: int,
) -> ElectionResult:
    """Kafka's processReplicaLeaderElection for one partition (`decide_with` applies a decision to its state)."""
    if tp not in views:
        return ErrorCode.unknown_topic_or_partition, "The partition does not exist.", -1
    if tp[0] in deleting:
        return ErrorCode.invalid_topic_exception, "The topic is being deleted", -1
    replicas, leader, _isr = views[tp]
    if election_type == PREFERRED_ELECTION:
        if replicas and leader == replicas[0]:
            return ErrorCode.election_not_needed, None, leader

        decide = preferred_of(replicas, live)
        failure = ErrorCode.preferred_leader_not_available
    else:
        if leader in live:
            return ErrorCode.election_not_needed, None, leader

        decide = unclean_of(replicas, live)
        failure = ErrorCode.eligible_leaders_not_available
    outcome = decide_with(tp[0], tp[1], decide)
    if outcome is None or not outcome.changed:
        return failure, f"Failed to elect leader for partition {tp[0]}-{tp[1]}", -1
    return ErrorCode.none, None, outcome.leader
