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

This module holds the controller's thread, its term and its passes; what a pass applies lives beside it:
`fencing.py` (writes under the term), `elections.py` (a decision applied to one partition's state, and
ElectLeaders), `reassignments.py` (KIP-455 moves); the decisions themselves are pure (`decisions.py`,
`metadata/reassignment.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionDropped,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from brook.common.clock import Clock
from brook.common.errors import ErrorCode
from brook.common.histogram import LockedHistogram
from brook.metadata.api import ElectionResult
from brook.metadata.zookeeper.decisions import (
    Decision,
    PartitionView,
    auto_rebalance_candidates,
    elect_leader_after_bounce,
    initial_state,
    leadership_predates_registration,
)
from brook.metadata.zookeeper.elections import (
    Decide,
    ElectionRequest,
    StateOutcome,
    decide_state,
    preferred_of,
    serve_election,
)
from brook.metadata.zookeeper.fencing import ControllerMoved, Term
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
    topic_config_path,
    topic_path,
)
from brook.metadata.zookeeper.reassignments import (
    Move,
    ReassignmentResult,
    ReassignRequest,
    cancel_move,
    complete_move,
    move_partition,
    start_move,
)

__all__ = ["Controller", "RebalanceSettings"]

logger = logging.getLogger(__name__)

PERIODIC_PASS_S = 5.0
_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)

# topic name -> unclean.leader.election.enable for that topic (its config, else the broker default)
UncleanPolicy = Callable[[str], bool]

_FIRST_REBALANCE_MS = 5_000  # as Kafka: the first check 5 s after becoming controller

TopicPartitionKey = tuple[str, int]

# ZooKeeper unreachable or the session lost: a fault the controller rides out (it retries, and resigns when its
# session goes); the message says all there is to know, a stack trace of kazoo's internals does not help
_CONNECTION_TROUBLE = (
    ConnectionLoss,
    SessionExpiredError,  # ConnectionClosedError too
    OperationTimeoutError,
    ConnectionDropped,
    KazooTimeoutError,
)


def traceback_worth_logging(exc: BaseException, failures: int) -> bool:
    """Log the stack of the first failure in a row, unless it is ZooKeeper connection trouble."""
    return failures == 1 and not isinstance(exc, _CONNECTION_TROUBLE)


@dataclass(frozen=True)
class RebalanceSettings:
    """auto.leader.rebalance.enable, leader.imbalance.check.interval.seconds, leader.imbalance.per.broker.percentage"""

    enable: bool = True
    check_interval_ms: int = 300_000
    imbalance_percentage: int = 10


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
        self._elections: list[ElectionRequest] = []
        self._reassignments: list[ReassignRequest] = []
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
        request = ElectionRequest(wanted, election_type)
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
        request = ReassignRequest(dict(targets), allow_size_change)
        if self._served("_reassignments", request, timeout_s):
            return request.results
        return {tp: (ErrorCode.request_timed_out, None) for tp in targets}

    def _served(self, queue: str, request: ElectionRequest | ReassignRequest, timeout_s: float) -> bool:
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
                    "controller work failed (%r); retrying in %.2fs",
                    exc,
                    delay,
                    exc_info=traceback_worth_logging(exc, failures),
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
                    self._move(name, int(p_text), complete_move(live))
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
            self._decide(name, partition, preferred_of(views[(name, partition)][0], live))

    def _serve_elections(self, views: dict[TopicPartitionKey, PartitionView], live: set[int]) -> None:
        with self._cond:
            requests, self._elections = self._elections, []
        deleting = set(self._safe_children(DELETE_TOPICS_PATH))
        for request in requests:
            wanted = list(views) if request.partitions is None else request.partitions
            for tp in wanted:
                request.results[tp] = serve_election(
                    self._decide, tp, views, live, deleting, request.election_type
                )
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
                decide = (
                    cancel_move(live)
                    if target is None
                    else start_move(target, live, request.allow_size_change)
                )
                request.results[tp] = self._move(tp[0], tp[1], decide)
            request.done.set()

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
                return replicas, outcome.leader, outcome.isr
            if not self._create_initial_state(name, partition, replicas, live):
                return None
            # created, or created by someone else meanwhile: decide on it as usual

    def _term(self) -> Term:
        assert self._epoch_zk_version is not None
        return Term(self._zk, self.epoch, self._epoch_zk_version)

    def _decide(
        self, name: str, partition: int, decide: Decide, *, unclean: bool = False
    ) -> StateOutcome | None:
        """`decide_state` under this term, counted in the election metrics."""
        outcome = decide_state(self._term(), name, partition, decide, unclean=unclean)
        if outcome is not None and outcome.elected:
            self.leader_elections += 1
            self.unclean_leader_elections += outcome.unclean
        return outcome

    def _move(self, name: str, partition: int, decide: Move) -> ReassignmentResult:
        """`move_partition` under this term, counted in the election metrics when it moved the leader."""
        result, elected = move_partition(self._term(), name, partition, decide)
        self.leader_elections += elected
        return result

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

        results = self._term().commit(ops)
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

        results = self._term().commit(ops)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise failed[0]  # something changed under us (a partition added?): the retried pass reads again
        logger.info("topic deleted by controller topic=%s partitions=%d", name, len(partitions))

    def _safe_children(self, path: str) -> list[str]:
        try:
            return list(self._zk.get_children(path))
        except NoNodeError:
            return []
