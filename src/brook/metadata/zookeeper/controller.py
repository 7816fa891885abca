"""The controller: one broker (the holder of the ephemeral /controller) elects partition leaders.

Election, as Kafka's KafkaZkClient.registerControllerAndIncrementControllerEpoch: one ZooKeeper transaction
creates /controller and bumps /controller_epoch (compare-and-set on its version), so a controller always knows
the epoch znode version of its own term. Every write it makes afterwards is a transaction that first checks
/controller_epoch still has that version: a controller that lost its term (a newer one was elected while it was
paused or cut off) has its writes refused, and resigns.

All work runs on the controller's own thread, one event at a time (never on kazoo's callback thread, never on
the event loop). Any change of brokers, topics or pending deletions, and a timer every few seconds, asks for a
pass; a pass that fails (ZooKeeper unreachable, a write refused) is retried with backoff until one succeeds.
A pass reads /brokers/ids (a broker whose registration is newer than the last pass saw has bounced: it counts
as failed, then started), completes pending topic deletions (/admin/delete_topics), and applies `elect_leader`
to every partition (dead leaders replaced from the live ISR, dead followers out of the ISR, no live ISR member:
offline unless the topic has unclean.leader.election.enable).

Unlike Kafka's ZooKeeper controller, taking a dead follower out of the ISR keeps the leader epoch (as Kafka's KRaft
controller does): brokers read partition state by znode version, so the epoch only changes with the leader.

After a pass the controller serves operators' elections (ElectLeaders: PREFERRED or UNCLEAN, `elect_leaders`)
and, with auto.leader.rebalance.enable, Kafka's auto leader rebalance: 5 s after it became controller and then
every leader.imbalance.check.interval.seconds, preferred leaders take back their partitions on every broker whose
share of partitions led elsewhere is above leader.imbalance.per.broker.percentage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)

from brook.common.clock import Clock
from brook.common.errors import ErrorCode
from brook.common.histogram import LockedHistogram
from brook.metadata import reassignment as moves
from brook.metadata.api import PREFERRED_ELECTION, ElectionResult
from brook.metadata.zookeeper.decisions import (
    Decision,
    PartitionView,
    auto_rebalance_candidates,
    elect_leader_after_bounce,
    initial_state,
    leadership_predates_registration,
    preferred_leader,
    unclean_leader,
)
from brook.metadata.zookeeper.layout import (
    BROKER_IDS_PATH,
    CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
    DELETE_TOPICS_PATH,
    TOPICS_PATH,
    broker_path,
    dumps,
    loads,
    partition_state_doc,
    partition_state_path,
    reassigning,
    set_reassigning,
    topic_config_path,
    topic_path,
)

__all__ = [
    "Controller",
    "ControllerMoved",
    "RebalanceSettings",
    "fenced_commit",
    "fenced_set",
]

logger = logging.getLogger(__name__)

PERIODIC_PASS_S = 5.0
_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)

# topic name -> unclean.leader.election.enable for that topic (its config, else the broker default)
UncleanPolicy = Callable[[str], bool]

_FIRST_REBALANCE_MS = 5_000  # as Kafka: the first check 5 s after becoming controller

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class RebalanceSettings:
    """auto.leader.rebalance.enable, leader.imbalance.check.interval.seconds, leader.imbalance.per.broker.percentage"""

    enable: bool = True
    check_interval_ms: int = 300_000
    imbalance_percentage: int = 10


@dataclass
class _ElectionRequest:
    partitions: list[TopicPartitionKey] | None  # None: every partition
    election_type: int
    results: dict[TopicPartitionKey, ElectionResult] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


# (error code, message) of one partition's AlterPartitionReassignments
ReassignmentResult = tuple[int, str | None]


@dataclass
class _ReassignRequest:
    targets: dict[TopicPartitionKey, tuple[int, ...] | None]  # None: cancel
    allow_size_change: bool
    results: dict[TopicPartitionKey, ReassignmentResult] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


# (assignment, leader, leader epoch, ISR) -> what to write, why not, or None to leave the partition be
Move = Callable[[moves.Reassignment, int, int, tuple[int, ...]], "moves.PartitionMove | moves.Refusal | None"]

_MOVE_ATTEMPTS = 20  # compare-and-set rounds lost to leaders changing the ISR meanwhile, before giving up


class ControllerMoved(Exception):
    """The /controller_epoch check failed: another controller was elected since this one's term began."""


def fenced_commit(zk: KazooClient, epoch_zk_version: int, ops: Callable[[Any], None]) -> list[Any]:
    """Run `ops(txn)` inside a transaction that first checks /controller_epoch is still at `epoch_zk_version`.

    Raises ControllerMoved if it is not; otherwise returns the results of `ops`' operations, where a failed
    operation's exception stands in its place (the caller decides: BadVersionError means "read again").
    """
    txn = zk.transaction()
    txn.check(CONTROLLER_EPOCH_PATH, epoch_zk_version)
    ops(txn)
    results = list(txn.commit())
    if isinstance(results[0], BadVersionError | NoNodeError):
        raise ControllerMoved(f"/controller_epoch is no longer at version {epoch_zk_version}")
    return [_unwrap(r) for r in results[1:]]


def fenced_set(zk: KazooClient, epoch_zk_version: int, path: str, data: bytes, version: int) -> Any:
    """One compare-and-set of `path` under the controller epoch check; returns the Stat or the exception."""
    (result,) = fenced_commit(zk, epoch_zk_version, lambda txn: txn.set_data(path, data, version=version))
    return result


# (leader, leader_epoch, isr, mzxid of the state znode) -> the new state, or None to leave it be
Decide = Callable[[int, int, tuple[int, ...], int], Decision | None]


def _preferred_of(replicas: tuple[int, ...], live: set[int]) -> Decide:
    return lambda leader, epoch, isr, _zxid: preferred_leader(replicas, leader, epoch, isr, live)


def _unclean_of(replicas: tuple[int, ...], live: set[int]) -> Decide:
    return lambda leader, epoch, isr, _zxid: unclean_leader(replicas, leader, epoch, isr, live)


def _start(target: tuple[int, ...], live: set[int], allow_size_change: bool) -> Move:
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


def _cancel(live: set[int]) -> Move:
    """Back to the original replicas (NO_REASSIGNMENT_IN_PROGRESS if there is no reassignment)."""

    def decide(
        current: moves.Reassignment, leader: int, epoch: int, isr: tuple[int, ...]
    ) -> moves.PartitionMove | moves.Refusal | None:
        reverted = moves.cancel(current)
        if isinstance(reverted, tuple):
            return reverted
        return moves.move_to(reverted, leader, epoch, isr, live)

    return decide


def _complete(live: set[int]) -> Move:
    """Finish a reassignment whose target replicas are all in the ISR; leave it be otherwise."""

    def decide(
        current: moves.Reassignment, leader: int, epoch: int, isr: tuple[int, ...]
    ) -> moves.PartitionMove | moves.Refusal | None:
        done = moves.completion(current, isr)
        return None if done is None else moves.move_to(done, leader, epoch, isr, live)

    return decide


def _unwrap(result: Any) -> Any:
    # the other operations of a failed transaction report that they were rolled back
    return None if isinstance(result, RolledBackError | RuntimeInconsistency) else result


class Controller:
    def __init__(
        self,
        zk: KazooClient,
        node_id: int,
        clock: Clock,
        unclean: UncleanPolicy,
        rebalance: RebalanceSettings | None = None,
    ) -> None:
        self._zk = zk
        self._node_id = node_id
        self._clock = clock
        self._unclean = unclean
        self._cond = threading.Condition()
        self._stand = False  # an election attempt is due
        self._pass_due = False
        self._closed = False
        self.epoch = 0
        self._epoch_zk_version: int | None = None  # set while this broker is the controller
        self._registrations: dict[int, int] = {}  # broker id -> czxid of its registration, at the last pass
        self._rebalance = rebalance or RebalanceSettings()
        self._next_rebalance_ms: int | None = None  # set while controller
        self._elections: list[_ElectionRequest] = []
        self._reassignments: list[_ReassignRequest] = []
        # metrics (written by the controller thread, read by the broker's): partitions given a new leader,
        # how many of them from outside the ISR, and the time of each pass that elected any (Kafka's
        # LeaderElectionRateAndTimeMs and UncleanLeaderElectionsPerSec)
        self.leader_elections = 0
        self.unclean_leader_elections = 0
        self.election_stats = LockedHistogram()
        self._thread = threading.Thread(target=self._run, name=f"controller-{node_id}", daemon=True)
        self._thread.start()

    @property
    def is_active(self) -> bool:
        return self._epoch_zk_version is not None

    def stand(self) -> None:
        """Try to become controller (after registering, or when /controller went away)."""
        with self._cond:
            self._stand = True
            self._cond.notify()

    def trigger(self) -> None:
        """Brokers, topics or deletions changed: run a pass soon (if this broker is the controller)."""
        with self._cond:
            self._pass_due = True
            self._cond.notify()

    def elect_leaders(
        self, partitions: Iterable[TopicPartitionKey] | None, election_type: int, timeout_s: float
    ) -> dict[TopicPartitionKey, ElectionResult]:
        """An operator's election (ElectLeaders), served by the controller thread after its next pass. Blocks
        (call it off the event loop); partitions left undecided at the timeout get REQUEST_TIMED_OUT, and every
        one gets NOT_CONTROLLER when this broker is not the controller."""
        wanted = None if partitions is None else list(partitions)
        if not self.is_active:
            return {tp: (ErrorCode.not_controller, None, -1) for tp in wanted or ()}
        request = _ElectionRequest(wanted, election_type)
        if self._served("_elections", request, timeout_s):
            return request.results
        return {tp: (ErrorCode.request_timed_out, None, -1) for tp in wanted or ()}

    def alter_reassignments(
        self,
        targets: Mapping[TopicPartitionKey, tuple[int, ...] | None],
        allow_size_change: bool,
        timeout_s: float,
    ) -> dict[TopicPartitionKey, ReassignmentResult]:
        """AlterPartitionReassignments: start (a target), replace, or cancel (None) reassignments, served by the
        controller thread after its next pass. Returns once they are started, not completed (the controller
        completes each when its target replicas are in the ISR). Blocks: call it off the event loop."""
        if not self.is_active:
            return {tp: (ErrorCode.not_controller, None) for tp in targets}
        request = _ReassignRequest(dict(targets), allow_size_change)
        if self._served("_reassignments", request, timeout_s):
            return request.results
        return {tp: (ErrorCode.request_timed_out, None) for tp in targets}

    def _served(self, queue: str, request: _ElectionRequest | _ReassignRequest, timeout_s: float) -> bool:
        """Queue an operator's request (on the list attribute `queue`) for the controller thread's next pass and
        wait for it; False at the timeout, the request then withdrawn unless the thread already took it (the
        thread swaps the list out, so it is looked up again, never held)."""
        with self._cond:
            getattr(self, queue).append(request)
            self._pass_due = True
            self._cond.notify()
        if request.done.wait(timeout_s):
            return True
        with self._cond:
            waiting = getattr(self, queue)
            if request in waiting:
                waiting.remove(request)
        return False

    def resign(self, reason: str) -> None:
        if self._epoch_zk_version is not None:
            logger.warning("no longer controller controller_epoch=%d reason=%s", self.epoch, reason)
        self._epoch_zk_version = None
        self._registrations.clear()
        self._next_rebalance_ms = None
        with self._cond:
            waiting, self._elections = self._elections, []
            moving, self._reassignments = self._reassignments, []
        for request in waiting:
            request.results = {tp: (ErrorCode.not_controller, None, -1) for tp in request.partitions or ()}
            request.done.set()
        for move in moving:
            move.results = {tp: (ErrorCode.not_controller, None) for tp in move.targets}
            move.done.set()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    # --- the controller thread -------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                if not (self._stand or self._pass_due or self._closed):
                    self._cond.wait(self._idle_wait_s())
                if self._closed:
                    return
                stand, self._stand = self._stand, False
                self._pass_due = False
            try:
                if stand and self.is_active and not self._holds_controller_znode():
                    self.resign("/controller is no longer ours")  # deleted by an operator, or lost
                if stand and not self.is_active:
                    self._try_elect()
                if self.is_active:
                    self._run_pass()
                failures = 0
            except ControllerMoved as exc:
                self.resign(str(exc))
            except Exception as exc:
                delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                logger.warning(
                    "controller work failed (%r); retrying in %.2fs", exc, delay, exc_info=failures == 1
                )
                with self._cond:
                    self._stand = self._stand or stand
                    self._pass_due = True
                    self._cond.wait(delay)

    def _idle_wait_s(self) -> float:
        if self._next_rebalance_ms is None:
            return PERIODIC_PASS_S
        return max(0.0, min(PERIODIC_PASS_S, (self._next_rebalance_ms - self._clock.monotonic_ms()) / 1000))

    def _try_elect(self) -> None:
        """Create /controller and bump /controller_epoch in one transaction; losing to another broker is fine."""
        while True:
            try:
                data, stat = self._zk.get(CONTROLLER_EPOCH_PATH)
            except NoNodeError:
                try:
                    self._zk.create(CONTROLLER_EPOCH_PATH, b"0")
                except NodeExistsError:
                    pass
                continue
            epoch = int(data or b"0") + 1
            txn = self._zk.transaction()
            doc = {"version": 1, "brokerid": self._node_id, "timestamp": str(self._clock.now_ms())}
            txn.create(CONTROLLER_PATH, dumps(doc), ephemeral=True)
            txn.set_data(CONTROLLER_EPOCH_PATH, str(epoch).encode(), version=stat.version)
            created, bumped = txn.commit()
            if isinstance(created, NodeExistsError):
                if self._holds_controller_znode():  # ours: an earlier attempt committed, its answer was lost
                    data, stat = self._zk.get(CONTROLLER_EPOCH_PATH)
                    self.epoch, self._epoch_zk_version = int(data or b"0"), stat.version
                    logger.info(
                        "controller already elected node_id=%d controller_epoch=%d", self._node_id, self.epoch
                    )
                return  # another broker is controller; the /controller watch tells us when it goes
            if isinstance(bumped, BadVersionError):
                continue  # another broker bumped the epoch meanwhile: read it again
            for result in (created, bumped):
                if isinstance(result, Exception):
                    raise result
            self.epoch = epoch
            self._epoch_zk_version = bumped.version
            if self._rebalance.enable:
                self._next_rebalance_ms = self._clock.monotonic_ms() + _FIRST_REBALANCE_MS
            logger.info("elected controller node_id=%d controller_epoch=%d", self._node_id, epoch)
            return

    def _holds_controller_znode(self) -> bool:
        stat = self._zk.exists(CONTROLLER_PATH)
        return stat is not None and stat.ephemeralOwner == self._zk.client_id[0]

    def _run_pass(self) -> None:
        started_ns, elections = time.monotonic_ns(), self.leader_elections
        try:
            self._run_pass_timed()
        finally:
            if self.leader_elections != elections:
                self.election_stats.observe((time.monotonic_ns() - started_ns) / 1e6)

    def _run_pass_timed(self) -> None:
        assert self._epoch_zk_version is not None
        registrations: dict[int, int] = {}
        for child in self._zk.get_children(BROKER_IDS_PATH):
            stat = self._zk.exists(broker_path(int(child)))
            if stat is not None:
                registrations[int(child)] = stat.czxid
        live = set(registrations)
        bounced = {b for b, czxid in registrations.items() if self._registrations.get(b, czxid) != czxid}
        if bounced:
            logger.info("brokers re-registered since the last pass brokers=%s", sorted(bounced))
        for name in self._safe_children(DELETE_TOPICS_PATH):
            self._complete_deletion(name)
        views: dict[TopicPartitionKey, PartitionView] = {}
        for name in self._zk.get_children(TOPICS_PATH):
            try:
                doc = loads(self._zk.get(topic_path(name))[0]) or {}
            except NoNodeError:
                continue
            unclean = self._unclean(name)
            for p_text, replicas in doc.get("partitions", {}).items():
                view = self._elect(name, int(p_text), tuple(replicas), registrations, bounced, unclean)
                if view is not None:
                    views[(name, int(p_text))] = view
                if any(reassigning(doc, int(p_text))):
                    self._move(name, int(p_text), live, _complete(live))
        self._registrations = registrations  # only once every partition took the bounce into account
        self._serve_elections(views, live)
        self._serve_reassignments(live)
        due = self._next_rebalance_ms
        if due is not None and self._clock.monotonic_ms() >= due:
            self._auto_rebalance(views, live)
            self._next_rebalance_ms = self._clock.monotonic_ms() + self._rebalance.check_interval_ms

    def _auto_rebalance(self, views: dict[TopicPartitionKey, PartitionView], live: set[int]) -> None:
        candidates = auto_rebalance_candidates(views, live, self._rebalance.imbalance_percentage)
        if candidates:
            logger.info("auto leader rebalance partitions=%d", len(candidates))
        for name, partition in candidates:
            self._decide(name, partition, _preferred_of(views[(name, partition)][0], live))

    def _serve_elections(self, views: dict[TopicPartitionKey, PartitionView], live: set[int]) -> None:
        with self._cond:
            requests, self._elections = self._elections, []
        deleting = set(self._safe_children(DELETE_TOPICS_PATH))
        for request in requests:
            wanted = list(views) if request.partitions is None else request.partitions
            for tp in wanted:
                request.results[tp] = self._serve_election(tp, views, live, deleting, request.election_type)
            request.done.set()

    def _serve_reassignments(self, live: set[int]) -> None:
        with self._cond:
            requests, self._reassignments = self._reassignments, []
        deleting = set(self._safe_children(DELETE_TOPICS_PATH))
        for request in requests:
            for tp, target in request.targets.items():
                if tp[0] in deleting:
                    request.results[tp] = ErrorCode.unknown_topic_or_partition, "The topic is being deleted."
                    continue
                decide = _cancel(live) if target is None else _start(target, live, request.allow_size_change)
                request.results[tp] = self._move(tp[0], tp[1], live, decide)
            request.done.set()

    def _move(self, name: str, partition: int, live: set[int], decide: Move) -> ReassignmentResult:
        """Apply `decide` to a partition's assignment and state together: one transaction under the controller
        epoch, compare-and-set on both znodes (decided again on what is there when a leader changed the ISR
        meanwhile). The state znode is written even when unchanged, so a leader's ISR proposal read before
        the move fails its compare-and-set and is made again on the new replicas."""
        path, state_path = topic_path(name), partition_state_path(name, partition)
        for _ in range(_MOVE_ATTEMPTS):
            try:
                data, stat = self._zk.get(path)
            except NoNodeError:
                return ErrorCode.unknown_topic_or_partition, "The topic does not exist."
            doc = loads(data) or {}
            replicas = doc.get("partitions", {}).get(str(partition))
            if replicas is None:
                return ErrorCode.unknown_topic_or_partition, "The partition does not exist."
            adding, removing = reassigning(doc, partition)
            current = moves.Reassignment(tuple(replicas), adding, removing)
            try:
                state_data, state_stat = self._zk.get(state_path)
                state = loads(state_data) or {}
            except NoNodeError:
                state, state_stat = {}, None
            leader, epoch = int(state.get("leader", -1)), int(state.get("leader_epoch", -1))
            isr = tuple(state.get("isr", ()))
            decided = decide(current, leader, epoch, isr)
            if decided is None:
                return ErrorCode.none, None
            if isinstance(decided, tuple):
                return decided
            target = decided.assignment
            set_reassigning(doc, partition, target.replicas, target.adding, target.removing)
            state_doc = partition_state_doc(decided.leader, decided.leader_epoch, decided.isr, self.epoch)

            topic_data = dumps(doc)

            def ops(txn: Any) -> None:
                txn.set_data(path, topic_data, version=stat.version)  # noqa: B023 (used before the loop moves on)
                if state_stat is not None:  # noqa: B023
                    txn.set_data(state_path, state_doc, version=state_stat.version)  # noqa: B023

            assert self._epoch_zk_version is not None
            results = fenced_commit(self._zk, self._epoch_zk_version, ops)
            failed = [r for r in results if isinstance(r, Exception)]
            if any(isinstance(r, BadVersionError) for r in failed):
                continue  # a leader changed the ISR, or a topic change landed: decide again
            if any(isinstance(r, NoNodeError) for r in failed):
                return ErrorCode.unknown_topic_or_partition, "The partition does not exist."
            if failed:
                raise failed[0]
            if decided.leader >= 0 and decided.leader != leader:
                self.leader_elections += 1
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
            return ErrorCode.none, None
        return ErrorCode.request_timed_out, "The partition's state kept changing; try again."

    def _serve_election(
        self,
        tp: TopicPartitionKey,
        views: dict[TopicPartitionKey, PartitionView],
        live: set[int],
        deleting: set[str],
        election_type: int,
    ) -> ElectionResult:
        """Kafka's processReplicaLeaderElection for one partition."""
        if tp not in views:
            return ErrorCode.unknown_topic_or_partition, "The partition does not exist.", -1
        if tp[0] in deleting:
            return ErrorCode.invalid_topic_exception, "The topic is being deleted", -1
        replicas, leader, _isr = views[tp]
        if election_type == PREFERRED_ELECTION:
            if replicas and leader == replicas[0]:
                return ErrorCode.election_not_needed, None, leader

            decide = _preferred_of(replicas, live)
            failure = ErrorCode.preferred_leader_not_available
        else:
            if leader in live:
                return ErrorCode.election_not_needed, None, leader

            decide = _unclean_of(replicas, live)
            failure = ErrorCode.eligible_leaders_not_available
        outcome = self._decide(tp[0], tp[1], decide)
        if outcome is None or not outcome[1]:
            return failure, f"Failed to elect leader for partition {tp[0]}-{tp[1]}", -1
        return ErrorCode.none, None, outcome[0]

    def _elect(
        self,
        name: str,
        partition: int,
        replicas: tuple[int, ...],
        registrations: Mapping[int, int],
        bounced: set[int],
        unclean: bool,
    ) -> PartitionView | None:
        """The pass's decision for one partition; returns its state afterwards (None: it has none).

        `registrations`: live broker id -> czxid of its registration. A leader whose registration is newer than
        the state counts as bounced here even if no earlier pass saw it go (this controller is new, or the
        restart fell between two passes)."""
        live = set(registrations)

        def decide(leader: int, epoch: int, isr: tuple[int, ...], zxid: int) -> Decision | None:
            stale = leadership_predates_registration(leader, zxid, registrations.get(leader))
            return elect_leader_after_bounce(
                replicas,
                leader,
                epoch,
                isr,
                live,
                (bounced | {leader}) if stale else bounced,
                unclean=unclean,
            )

        while True:
            outcome = self._decide(name, partition, decide, unclean=unclean)
            if outcome is not None:
                leader, _changed, isr = outcome
                return replicas, leader, isr
            if not self._create_initial_state(name, partition, replicas, live):
                return None
            # created, or created by someone else meanwhile: decide on it as usual

    def _decide(
        self,
        name: str,
        partition: int,
        decide: Decide,
        *,
        unclean: bool = False,
    ) -> tuple[int, bool, tuple[int, ...]] | None:
        """Apply `decide` to the partition's state znode (compare-and-set under the controller epoch, decided
        again on what is there when another writer won). Returns (leader, changed, isr) afterwards, or None
        when the partition has no state znode."""
        path = partition_state_path(name, partition)
        while True:
            try:
                data, stat = self._zk.get(path)
            except NoNodeError:
                return None
            state = loads(data)
            if state is None:
                return None
            old_isr = tuple(state["isr"])
            decision = decide(int(state["leader"]), int(state["leader_epoch"]), old_isr, stat.mzxid)
            if decision is None:
                return int(state["leader"]), False, old_isr
            leader, leader_epoch, isr = decision
            new_state = partition_state_doc(leader, leader_epoch, isr, self.epoch)
            assert self._epoch_zk_version is not None
            result = fenced_set(self._zk, self._epoch_zk_version, path, new_state, stat.version)
            if isinstance(result, BadVersionError):
                continue  # the leader changed the ISR meanwhile: decide again on what is there now
            if isinstance(result, NoNodeError):
                return None
            if isinstance(result, Exception):
                raise result
            old_leader = int(state["leader"])
            if leader >= 0 and leader != old_leader:
                self.leader_elections += 1
                if leader not in old_isr:
                    self.unclean_leader_elections += 1
            logger.info(
                "partition state changed by controller topic=%s partition=%d leader=%d epoch=%d isr=%s%s",
                name,
                partition,
                leader,
                leader_epoch,
                list(isr),
                " (unclean election)" if unclean and leader >= 0 and leader not in old_isr else "",
            )
            return leader, True, isr

    def _create_initial_state(
        self, name: str, partition: int, replicas: tuple[int, ...], live: set[int]
    ) -> bool:
        """A partition whose assignment was written without a state znode; False if there is nothing to do."""
        decision = initial_state(replicas, live)
        if decision is None or self._zk.exists(topic_path(name)) is None:
            return False
        partitions_path = f"{topic_path(name)}/partitions"
        missing = [
            path
            for path in (partitions_path, f"{partitions_path}/{partition}")
            if self._zk.exists(path) is None
        ]
        doc = partition_state_doc(*decision, self.epoch)

        def ops(txn: Any) -> None:
            for path in missing:
                txn.create(path, b"")
            txn.create(partition_state_path(name, partition), doc)

        assert self._epoch_zk_version is not None
        results = fenced_commit(self._zk, self._epoch_zk_version, ops)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed and not isinstance(failed[0], NodeExistsError):
            raise failed[0]
        if not failed:
            logger.info(
                "new partition online topic=%s partition=%d leader=%d isr=%s",
                name,
                partition,
                decision[0],
                list(decision[2]),
            )
        return True

    def _complete_deletion(self, name: str) -> None:
        """Kafka's ZooKeeper flow: the controller removes the topic's znodes, then the deletion request.

        Every broker drops its replicas when the topic leaves its image; one that was down drops them when it
        starts and finds logs of a topic (id) that no longer exists.
        """
        topic = topic_path(name)
        partitions = self._safe_children(f"{topic}/partitions")
        config_exists = self._zk.exists(topic_config_path(name)) is not None
        topic_exists = self._zk.exists(topic) is not None
        partitions_exist = self._zk.exists(f"{topic}/partitions") is not None

        def ops(txn: Any) -> None:
            for p in partitions:
                txn.delete(f"{topic}/partitions/{p}/state")
                txn.delete(f"{topic}/partitions/{p}")
            if partitions_exist:
                txn.delete(f"{topic}/partitions")
            if topic_exists:
                txn.delete(topic)
            if config_exists:
                txn.delete(topic_config_path(name))
            txn.delete(f"{DELETE_TOPICS_PATH}/{name}")

        assert self._epoch_zk_version is not None
        results = fenced_commit(self._zk, self._epoch_zk_version, ops)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise failed[0]  # something changed under us (a partition added?): the retried pass reads again
        logger.info("topic deleted by controller topic=%s partitions=%d", name, len(partitions))

    def _safe_children(self, path: str) -> list[str]:
        try:
            return list(self._zk.get_children(path))
        except NoNodeError:
            return []
