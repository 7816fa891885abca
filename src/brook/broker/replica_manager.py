"""ReplicaManager: the partitions this broker hosts, produce appends and (long-polling) fetch reads.

Owned by the event loop. Appends run synchronously inside the request's task, so they reach the log
in arrival order; a parked fetch waits on a future that the next append to one of its partitions, or
the next advance of its high watermark, completes (no polling). acks=all waits on the same futures
until the high watermark passes the appended records.

Replication: for partitions this broker follows, a `ReplicaFetcherManager` (replica_fetcher.py) fetches
from the leaders; for partitions it leads, follower fetches advance the HW, and ISR changes are written
through `isr_writer` (the metadata store, off the event loop) before they are applied; while one change of a
partition's ISR is in flight that partition proposes no other (Kafka's pending AlterPartition).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brook.broker.high_watermarks import HighWatermarkCheckpoints
from brook.broker.replication_quota import FOLLOWER_REPLICAS, LEADER_REPLICAS, ReplicationQuota
from brook.broker.request_metrics import add_remote_ns
from brook.broker.zero_copy import FileRange
from brook.common.clock import Clock
from brook.common.errors import (
    BrookError,
    ErrorCode,
    LogDirOffline,
    UnknownTopicOrPartition,
)
from brook.common.types import TopicPartition
from brook.metadata.api import BrokerInfo, TopicState
from brook.records.batch import BatchHeader
from brook.records.control import EndTxnMarker
from brook.replication.partition import FollowerFetchOutcome, Partition
from brook.storage.api import AppendInfo, FileSlice, LogConfig
from brook.storage.log import FileLog
from brook.storage.producer_snapshot import (
    encode_producer_state,
    restore_producer_state,
    write_producer_snapshots,
)
from brook.storage.producer_state import ProducerStateManager
from brook.storage.txn_index import AbortedTxn

logger = logging.getLogger(__name__)

_ISR_RETRY_BACKOFF_S = (0.1, 0.25, 0.5, 1.0)  # an ISR write without an answer is asked again after these

__all__ = [
    "FETCH_PURGATORY",
    "PRODUCE_PURGATORY",
    "FetchPartition",
    "FetchResult",
    "IsrWriter",
    "ReplicaManager",
    "acks_all_outcome",
]

PRODUCE_PURGATORY = "Produce"  # acks=all produce requests waiting for their ISR
FETCH_PURGATORY = "Fetch"  # long-poll fetches waiting for min_bytes

# (tp, leader_epoch, new isr) -> whether the metadata store accepted it; never blocks the event loop
IsrWriter = Callable[[TopicPartition, int, tuple[int, ...]], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class FetchPartition:
    tp: TopicPartition
    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int = -1
    last_fetched_epoch: int = -1  # a follower's latest epoch (KIP-320): the leader checks it for divergence
    isolation_level: int = 0  # 1: read_committed, served up to the last stable offset


@dataclass(slots=True)
class FetchResult:
    tp: TopicPartition
    error_code: ErrorCode
    high_watermark: int = -1
    log_start_offset: int = -1
    # slices: the fetch handler reads them, or takes them as FileRanges the connection sends (zero_copy.py)
    records: list[bytes | FileSlice | FileRange] = field(default_factory=list)
    size: int = 0
    diverging_epoch: tuple[int, int] | None = None
    valid_read: bool = False  # the fetch passed the leader's checks and read from its fetch offset
    last_stable_offset: int = -1
    aborted_transactions: list[AbortedTxn] | None = None  # read_committed: those overlapping the read


def acks_all_outcome(partition: Partition, end_offset: int) -> ErrorCode | None:
    """For a leader's records below `end_offset`: None while the ISR does not have them all yet (the HW is
    below); once it has, NONE, or, as Kafka does, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR is below
    min.insync.replicas."""
    if partition.log.high_watermark < end_offset:
        return None
    if len(partition.isr) < partition.min_insync_replicas:
        return ErrorCode.not_enough_replicas_after_append
    return ErrorCode.none


@dataclass(frozen=True, slots=True)
class _SyncedTopic:
    """What the last sync applied to one topic's partitions here (ReplicaManager.sync_with)."""

    state: TopicState
    config: LogConfig
    min_insync_replicas: int | None
    hosted: frozenset[TopicPartition]

    def covers(
        self,
        state: TopicState,
        config: LogConfig,
        min_insync_replicas: int | None,
        partitions: Mapping[TopicPartition, Partition],
    ) -> bool:
        """Would applying this again change nothing? Same inputs, and every partition it hosted still hosted."""
        return (
            (self.state is state or self.state == state)
            and self.config == config
            and self.min_insync_replicas == min_insync_replicas
            and self.hosted <= partitions.keys()
        )


@dataclass(slots=True)
class ReplicationCheck:
    """acks=all after an append: partitions still waiting for the ISR (their end offsets), the leader epochs the
    records were appended in, and the partitions that failed (their error codes)."""

    pending: dict[TopicPartition, int]
    epochs: dict[TopicPartition, int]
    failed: dict[TopicPartition, ErrorCode]


class ReplicaManager:
    def __init__(
        self,
        node_id: int,
        log_manager: object,
        clock: Clock,
        *,
        replica_lag_time_max_ms: int = 30_000,
        producer_id_expiration_ms: int = 86_400_000,
    ) -> None:
        from brook.broker.replica_fetcher import ReplicaFetcherManager
        from brook.storage.manager import LogManager

        assert isinstance(log_manager, LogManager)
        self.node_id = node_id
        self.log_manager = log_manager
        self.clock = clock
        self.replica_lag_time_max_ms = replica_lag_time_max_ms
        self.producer_id_expiration_ms = producer_id_expiration_ms
        self.partitions: dict[TopicPartition, Partition] = {}
        self.isr_writer: IsrWriter | None = None
        self.fetchers = ReplicaFetcherManager(self)
        # called after a WriteTxnMarkers marker is replicated: (tp, producer_id, producer_epoch, committed)
        self.txn_marker_listeners: list[Callable[[TopicPartition, int, int, bool], None]] = []
        self._waiters: dict[TopicPartition, set[asyncio.Future[None]]] = {}
        self._flushes: dict[TopicPartition, asyncio.Task[None]] = {}
        self._isr_writes: dict[TopicPartition, asyncio.Task[None]] = {}  # one ISR proposal in flight per tp
        self.live_brokers: set[int] | None = None  # registered brokers, from the last sync that named them
        self._synced: dict[str, _SyncedTopic] = {}  # by topic name: what the last sync applied (sync_with)
        self.hosting_generation = 0  # bumped whenever a partition is hosted or dropped here
        self.high_watermarks = HighWatermarkCheckpoints(log_manager, lambda: list(self.partitions.items()))
        # metrics: ISR changes this leader applied (Kafka's IsrShrinksPerSec / IsrExpandsPerSec counts), and
        # the parked requests by Kafka's purgatory name: [operations, partitions watched]
        self.isr_shrinks = 0
        self.isr_expands = 0
        self.failed_isr_updates = 0  # proposals the metadata store refused (FailedIsrUpdatesPerSec)
        self.replication_bytes_in = (
            0  # record bytes this follower appended from leaders (ReplicationBytesInPerSec)
        )
        self.purgatory: dict[str, list[int]] = {PRODUCE_PURGATORY: [0, 0], FETCH_PURGATORY: [0, 0]}
        # replication throttles (replication_quota.py): what this broker sends as leader, fetches as follower
        self.leader_quota = ReplicationQuota(LEADER_REPLICAS)
        self.follower_quota = ReplicationQuota(FOLLOWER_REPLICAS)

    # --- hosting -------------------------------------------------------------------------------

    def sync_with(
        self,
        topics: Mapping[str, TopicState],
        configs: Mapping[str, LogConfig],
        *,
        brokers: Mapping[int, BrokerInfo] | None = None,
        min_insync_replicas: Mapping[str, int] | None = None,
    ) -> None:
        """Open or create logs for every partition assigned here; drop the ones no longer assigned.

        Then take each partition's role from the metadata: a new leader epoch makes this broker leader or
        follower; the same epoch only updates the ISR. Followers are handed to the fetchers.

        A topic given the same state, config and min.insync.replicas as the last sync is skipped: its partitions
        change only here, so applying the same state again would change nothing (what a metadata change costs
        with thousands of partitions hosted, on the event loop: one topic's work, not every partition's).
        """
        wanted: set[TopicPartition] = set()
        now_ms = self.clock.now_ms()
        synced: dict[str, _SyncedTopic] = {}
        for state in topics.values():
            config = configs[state.name]
            min_isr = None if min_insync_replicas is None else min_insync_replicas.get(state.name, 1)
            last = self._synced.get(state.name)
            if last is not None and last.covers(state, config, min_isr, self.partitions):
                wanted.update(last.hosted)
                synced[state.name] = last
                continue
            hosted = self._sync_topic(state, config, min_isr, now_ms)
            wanted.update(hosted)
            synced[state.name] = _SyncedTopic(state, config, min_isr, hosted)
        # Only a completed pass is remembered: after a failure (no descriptor to open a log) the next pass
        # applies every topic that this one did not finish.
        self._synced = synced
        for tp in [tp for tp in self.partitions if tp not in wanted]:
            self._remove_partition(tp)
        if brokers is not None:
            self.live_brokers = set(brokers)
            self.fetchers.reconcile(
                {tp: p.leader for tp, p in self.partitions.items() if not p.is_leader and p.leader >= 0},
                brokers,
            )

    def _sync_topic(
        self, state: TopicState, config: LogConfig, min_isr: int | None, now_ms: int
    ) -> frozenset[TopicPartition]:
        """Host the topic's partitions assigned here, in the roles its state gives; returns them."""
        hosted: set[TopicPartition] = set()
        for p in state.partitions.values():
            if self.node_id not in p.replicas:
                continue
            tp = TopicPartition(state.name, p.partition)
            partition = self.partitions.get(tp)
            if partition is None:
                partition = self._open_partition(tp, config, p.leader, p.leader_epoch, p.replicas, p.isr)
            else:
                if partition.config != config:
                    partition.config = config
                    self.log_manager.update_config(tp, partition.config)
                self._apply_role(partition, p.leader, p.leader_epoch, p.replicas, p.isr, now_ms)
            if min_isr is not None:
                partition.min_insync_replicas = min_isr
            hosted.add(tp)
        return frozenset(hosted)

    def configure_throttles(
        self, topic_configs: Mapping[str, Mapping[str, str]], leader_rate: int, follower_rate: int
    ) -> None:
        """The replication throttles' bounds and throttled partitions, from the broker's and topics' configs."""
        self.leader_quota.configure(leader_rate, topic_configs, self.node_id)
        self.follower_quota.configure(follower_rate, topic_configs, self.node_id)

    def follower_throttled(self, partition: Partition) -> bool:
        """Leave `partition` out of this follower's next fetch, the follower side being over its bound? (Out of
        the ISR and throttled.)"""
        return self.node_id not in partition.isr and self.follower_quota.is_throttled(partition.tp)

    def _apply_role(
        self,
        partition: Partition,
        leader: int,
        leader_epoch: int,
        replicas: tuple[int, ...],
        isr: tuple[int, ...],
        now_ms: int,
    ) -> None:
        new_epoch = leader_epoch != partition.leader_epoch or leader != partition.leader
        if leader == self.node_id:
            if new_epoch or not partition.is_leader:
                partition.make_leader(leader_epoch, replicas, isr, now_ms)
                self._wake(partition.tp)
            elif partition.update_isr(replicas, isr, now_ms):
                self._wake(partition.tp)
        elif new_epoch or partition.is_leader:
            partition.make_follower(leader, leader_epoch, replicas, isr, now_ms)
            self._wake(partition.tp)  # parked fetches and acks=all waiters learn they lost leadership
        else:
            partition.update_isr(replicas, isr, now_ms)

    def _open_partition(
        self,
        tp: TopicPartition,
        config: LogConfig,
        leader: int,
        leader_epoch: int,
        replicas: tuple[int, ...],
        isr: tuple[int, ...],
    ) -> Partition:
        log = self.log_manager.get(tp) or self.log_manager.create(tp, config)
        # Never the whole log as committed: what lies past the last checkpointed HW may be a tail that a
        # failover takes back (a leader raises its HW again from its ISR's fetches).
        checkpointed_high_watermark = self.high_watermarks.checkpointed(tp)
        log.restore_high_watermark(checkpointed_high_watermark)
        partition = Partition(tp, log, config, self.node_id, leader, leader_epoch, replicas, isr)
        partition.replica_lag_time_max_ms = self.replica_lag_time_max_ms
        log.stable_offset_source = lambda: partition.last_stable_offset  # compaction stops below it
        # The state the last clean close saved, if it is exact for this log; else replay the log's headers.
        saved = restore_producer_state(
            self.log_manager.take_producer_snapshot(tp), log.log_end_offset, self.producer_id_expiration_ms
        )
        if saved is not None:
            partition.producer_state = saved
        else:
            partition.producer_state = ProducerStateManager(self.producer_id_expiration_ms)
            partition.rebuild_producer_state(self.clock.now_ms())
        if partition.is_leader:
            partition.make_leader(leader_epoch, replicas, isr, self.clock.now_ms())
        elif leader >= 0:
            partition.make_follower(leader, leader_epoch, replicas, isr, self.clock.now_ms())
        self.partitions[tp] = partition
        self.hosting_generation += 1
        logger.info(
            "hosting partition tp=%s leader=%d epoch=%d leo=%d hw=%d checkpointed_hw=%d",
            tp,
            leader,
            leader_epoch,
            log.log_end_offset,
            log.high_watermark,
            checkpointed_high_watermark,
        )
        return partition

    def _remove_partition(self, tp: TopicPartition) -> None:
        self.partitions.pop(tp)
        self.hosting_generation += 1
        log = self.log_manager.get(tp)
        self.log_manager.delete(tp)
        if log is not None:
            # Its stable-offset closure refers to the partition (_open_partition): a cycle, which the collector
            # never frees when the partition was hosted at start-up (serve.py freezes start-up objects).
            log.stable_offset_source = None
        for waiter in self._waiters.pop(tp, ()):
            if not waiter.done():
                waiter.set_result(None)
        logger.info("removed partition tp=%s", tp)

    def leader_partition(self, tp: TopicPartition) -> Partition:
        partition = self.partitions.get(tp)
        if partition is None:
            raise UnknownTopicOrPartition(f"This server does not host this topic-partition: {tp}")
        partition.require_leader()
        if partition.log.is_offline:
            raise LogDirOffline(f"the log dir of {tp} is offline")
        return partition

    # --- produce -------------------------------------------------------------------------------

    def append_records(
        self,
        tp: TopicPartition,
        data: bytearray | memoryview,
        *,
        required_acks: int = 1,
        validated_with: LogConfig | None = None,
        batches: list[tuple[int, BatchHeader]] | None = None,
    ) -> AppendInfo:
        """`validated_with`: the config the produce validator checked `data` against (None: not checked), and
        `batches` the (position, header) list it read."""
        partition = self.leader_partition(tp)
        if required_acks == -1:
            partition.check_enough_replicas()
        try:
            info = partition.append_as_leader(
                data, self.clock.now_ms(), validated_with=validated_with, batches=batches
            )
        except LogDirOffline:
            logger.error("log dir offline while appending tp=%s", tp)
            raise
        if info.rolled:
            self._flush_in_background(tp, partition)
        self._wake(tp)
        return info

    def append_txn_marker(
        self, tp: TopicPartition, producer_id: int, producer_epoch: int, marker: EndTxnMarker
    ) -> AppendInfo:
        """WriteTxnMarkers on the leader: the marker goes in with acks=all rules (Kafka appends markers
        with requiredAcks=-1), so NOT_ENOUGH_REPLICAS before the append when the ISR is too small."""
        partition = self.leader_partition(tp)
        partition.check_enough_replicas()
        info = partition.append_txn_marker(producer_id, producer_epoch, marker, self.clock.now_ms())
        if info.rolled:
            self._flush_in_background(tp, partition)
        self._wake(tp)
        return info

    def _flush_in_background(self, tp: TopicPartition, partition: Partition) -> None:
        """fsync a just-rolled segment on a worker thread: a 1 GiB segment takes the disk ~0.5 s."""
        running = self._flushes.get(tp)

        async def flush() -> None:
            if running is not None:
                await running  # one fsync per log at a time; this one covers what came since
            try:
                await asyncio.to_thread(partition.log.flush)
            except BrookError as exc:
                logger.error("background flush failed tp=%s: %s", tp, exc)
            finally:
                if self._flushes.get(tp) is task:
                    del self._flushes[tp]

        task = asyncio.get_running_loop().create_task(flush())
        self._flushes[tp] = task

    async def wait_for_flushes(self) -> None:
        while self._flushes:
            await asyncio.gather(*self._flushes.values(), return_exceptions=True)

    async def wait_for_replication(
        self, appended: Iterable[tuple[TopicPartition, int]], timeout_ms: int
    ) -> dict[TopicPartition, ErrorCode]:
        """acks=all: wait until each partition's HW reaches its appended end offset (the ISR has it).

        Returns the partitions that failed: REQUEST_TIMED_OUT after `timeout_ms`, NOT_LEADER_OR_FOLLOWER if
        leadership moved meanwhile, even if it came back in a later epoch (the records may have been
        truncated and the offsets reused; the producer retries), and, as Kafka does,
        NOT_ENOUGH_REPLICAS_AFTER_APPEND when the HW got there but the ISR is below min.insync.replicas.
        Called right after the append, so the epochs read here are the ones the records were appended in.
        """
        return await self.wait_for(self.replication_check(appended), timeout_ms)

    def replication_check(self, appended: Iterable[tuple[TopicPartition, int]]) -> ReplicationCheck:
        """Right after an append (the epochs read here are the ones the records were appended in): what the ISR
        has already decided; `wait_for` waits for the rest."""
        pending = dict(appended)
        epochs = {tp: p.leader_epoch for tp in pending if (p := self.partitions.get(tp)) is not None}
        check = ReplicationCheck(pending, epochs, {})
        self._settle(check)
        return check

    async def wait_for(self, check: ReplicationCheck, timeout_ms: int) -> dict[TopicPartition, ErrorCode]:
        """Until every partition of `check` is decided (wait_for_replication's outcomes); its failures.

        Settled again before each wait: the check may have been made turns of the loop earlier (produce_now
        makes it where the request is read, this runs in a task), and an HW advance or a role change in between
        woke nobody. Parking on it regardless would hold the answer until the request's timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        while True:
            self._settle(check)
            if not check.pending:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                check.failed.update(dict.fromkeys(check.pending, ErrorCode.request_timed_out))
                break
            await self._park(list(check.pending), remaining, PRODUCE_PURGATORY)
        return check.failed

    def _settle(self, check: ReplicationCheck) -> None:
        pending, failed = check.pending, check.failed
        for tp, end in list(pending.items()):
            partition = self.partitions.get(tp)
            if partition is None or not partition.is_leader or partition.leader_epoch != check.epochs.get(tp):
                failed[tp] = ErrorCode.not_leader_or_follower
                del pending[tp]
            elif (code := acks_all_outcome(partition, end)) is not None:
                if code != ErrorCode.none:
                    failed[tp] = code
                del pending[tp]

    async def _park(self, tps: list[TopicPartition], timeout_s: float, purgatory: str) -> None:
        """Wait until an append or HW advance on one of `tps`, a role change, or the timeout."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for tp in tps:
            self._waiters.setdefault(tp, set()).add(waiter)
        sizes = self.purgatory[purgatory]
        sizes[0] += 1
        sizes[1] += len(tps)
        parked_ns = time.monotonic_ns()
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            pass
        finally:
            add_remote_ns(time.monotonic_ns() - parked_ns)
            sizes[0] -= 1
            sizes[1] -= len(tps)
            for tp in tps:
                waiters = self._waiters.get(tp)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[tp]

    def _wake(self, tp: TopicPartition) -> None:
        waiters = self._waiters.pop(tp, None)
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # --- fetch ---------------------------------------------------------------------------------

    async def fetch(
        self,
        wanted: list[FetchPartition],
        *,
        min_bytes: int,
        max_bytes: int,
        max_wait_ms: int,
        from_follower: bool = False,
        replica_id: int = -1,
    ) -> list[FetchResult]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait_ms / 1000
        results = self._read_all(wanted, max_bytes, from_follower, replica_id)
        if replica_id >= 0:
            # Only fetches that passed validation (epoch, divergence, offset range) say where the
            # follower's log ends; the rest must not move its state, the ISR or the HW (Kafka's rule).
            self._record_follower_fetches(
                replica_id, [f for f, r in zip(wanted, results, strict=True) if r.valid_read]
            )
        while True:
            total = sum(r.size for r in results)
            remaining = deadline - loop.time()
            if (
                total >= max(min_bytes, 1)
                or remaining <= 0
                or any(r.error_code or r.diverging_epoch for r in results)  # answered at once, as Kafka
            ):
                return results
            await self._park([f.tp for f in wanted], remaining, FETCH_PURGATORY)
            results = self._read_all(wanted, max_bytes, from_follower, replica_id)

    def _record_follower_fetches(self, replica_id: int, wanted: list[FetchPartition]) -> None:
        """A follower's fetch offset is its log end offset: advance the HW, maybe take it back into the ISR."""
        now_ms = self.clock.now_ms()
        for f in wanted:
            partition = self.partitions.get(f.tp)
            if partition is None or not partition.is_leader:
                continue
            if partition.record_follower_fetch(replica_id, f.fetch_offset, now_ms):
                self._wake(f.tp)
            expanded = partition.maybe_expand_isr(replica_id)
            # KIP-841: only a broker with a live registration may join an ISR (one cut off from ZooKeeper still
            # fetches; taking it back would undo the controller's decision over and over)
            if expanded is not None and (self.live_brokers is None or replica_id in self.live_brokers):
                self._change_isr(partition, expanded)

    def _change_isr(self, partition: Partition, isr: tuple[int, ...]) -> None:
        """Propose an ISR change to the metadata store (off the loop); apply it only if the store takes it."""
        writer = self.isr_writer
        if writer is None or partition.tp in self._isr_writes:
            return  # the proposal in flight is answered first; the next check proposes again if still needed
        partition.pending_isr = isr  # the HW counts an expansion's members while it is in flight (KIP-497)
        task = asyncio.get_running_loop().create_task(self._write_isr(writer, partition, isr))
        self._isr_writes[partition.tp] = task

    async def _write_isr(self, writer: IsrWriter, partition: Partition, isr: tuple[int, ...]) -> None:
        """Write one proposal; apply it only once the store answers that it took it.

        A write that fails without an answer (ZooKeeper unreachable, the connection lost after the request was
        sent) may have been committed: the controller may then elect any member of `isr`. So the proposal
        stays in flight (the HW keeps counting its members, KIP-497's maximal ISR) and is asked again until
        the store answers, or this broker no longer leads in this epoch. Giving up instead let a leader
        acknowledge records a committed new ISR member did not have; it was then elected and they were lost.
        """
        old, epoch = partition.isr, partition.leader_epoch
        failures = 0
        try:
            while True:
                try:
                    accepted = await writer(partition.tp, epoch, isr)
                    break
                except Exception as exc:
                    failures += 1
                    still = (
                        self.partitions.get(partition.tp) is partition
                        and partition.is_leader
                        and partition.leader_epoch == epoch
                        and partition.pending_isr is isr
                    )
                    logger.warning(
                        "writing the ISR failed tp=%s isr=%s (%r); %s",
                        partition.tp,
                        isr,
                        exc,
                        "kept in flight, asking again" if still else "no longer leading in this epoch",
                        exc_info=failures == 1,
                    )
                    if not still:
                        return
                    await asyncio.sleep(_ISR_RETRY_BACKOFF_S[min(failures, len(_ISR_RETRY_BACKOFF_S)) - 1])
        finally:
            self._isr_writes.pop(partition.tp, None)
            if partition.pending_isr is isr:  # a role change since may have cleared or replaced it
                partition.pending_isr = None
        if not accepted:
            self.failed_isr_updates += 1
        current = self.partitions.get(partition.tp) is partition and partition.is_leader
        if accepted and current and partition.leader_epoch == epoch:
            logger.info("isr changed tp=%s epoch=%d isr=%s -> %s", partition.tp, epoch, old, isr)
            if len(isr) < len(old):
                self.isr_shrinks += 1
            elif len(isr) > len(old):
                self.isr_expands += 1
            if partition.update_isr(partition.replicas, isr, self.clock.now_ms()):
                self._wake(partition.tp)

    def maybe_shrink_isrs(self) -> None:
        """Drop followers that lag more than replica.lag.time.max.ms (run periodically)."""
        now_ms = self.clock.now_ms()
        alone = (self.node_id,)
        # An ISR of this broker alone has nobody to drop (Partition.maybe_shrink_isr keeps the leader): at
        # thousands of unreplicated partitions, asking each took ~20 ms of the event loop every pass.
        for partition in [p for p in self.partitions.values() if p.isr != alone]:
            shrunk = partition.maybe_shrink_isr(now_ms)
            if shrunk is not None:
                self._change_isr(partition, shrunk)

    def remove_expired_producers(self) -> int:
        """producer.id.expiration.ms: forget producers idle that long (Kafka's removeExpiredProducers)."""
        now_ms = self.clock.now_ms()
        removed = sum(p.producer_state.remove_expired(now_ms) for p in list(self.partitions.values()))
        if removed:
            logger.info("expired producer ids count=%d", removed)
        return removed

    async def producer_expiration_loop(self, interval_ms: int) -> None:
        """Every producer.id.expiration.check.interval.ms (Kafka: 10 min)."""
        while True:
            await asyncio.sleep(interval_ms / 1000)
            try:
                self.remove_expired_producers()
            except Exception:
                logger.exception("producer expiration pass failed")

    def write_producer_snapshots(self) -> None:
        """At clean shutdown, after every append has stopped: save each partition's producer state
        (storage/producer_snapshot.py: one file per log dir) so the restart need not replay the logs. A worker
        thread may run it."""
        by_dir: dict[Path, dict[str, dict[str, Any]]] = {}
        for partition in list(self.partitions.values()):
            log = partition.log
            log_dir = self.log_manager.log_dir_of(partition.tp)
            if not isinstance(log, FileLog) or log.is_offline or log_dir is None:
                continue
            entry = encode_producer_state(log.log_end_offset, partition.producer_state)
            by_dir.setdefault(log_dir, {})[log.directory.name] = entry
        for log_dir, entries in by_dir.items():
            try:
                write_producer_snapshots(log_dir, entries)
            except OSError as exc:
                logger.warning("producer snapshots not written dir=%s error=%s", log_dir, exc)

    async def isr_expiration_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.replica_lag_time_max_ms / 2000, 0.05))
            try:
                self.maybe_shrink_isrs()
            except Exception:
                logger.exception("ISR expiration pass failed")

    def _read_all(
        self, wanted: list[FetchPartition], max_bytes: int, from_follower: bool, replica_id: int = -1
    ) -> list[FetchResult]:
        results: list[FetchResult] = []
        budget = max_bytes
        quota = self.leader_quota if from_follower and self.leader_quota.active else None
        now_ms = self.clock.now_ms() if quota is not None else 0
        exceeded = quota is not None and quota.exceeded(now_ms)
        for f in wanted:
            throttled = quota is not None and quota.is_throttled(f.tp)
            if throttled and exceeded and not self._in_isr(f.tp, replica_id):
                result = self._read_one(f, 0, from_follower, False, replica_id)  # answered without records
            else:
                # KIP-74: the first partition with data may exceed the limits; "first" = nothing read yet
                result = self._read_one(f, budget, from_follower, budget == max_bytes, replica_id)
            if throttled and quota is not None:
                # as Kafka: a throttled partition's bytes count, its follower in the ISR or not
                quota.record(result.size, now_ms)
            budget -= result.size
            results.append(result)
        return results

    def _in_isr(self, tp: TopicPartition, replica_id: int) -> bool:
        partition = self.partitions.get(tp)
        return partition is not None and replica_id in partition.isr

    def _read_one(
        self, f: FetchPartition, budget: int, from_follower: bool, first: bool, replica_id: int = -1
    ) -> FetchResult:
        try:
            partition = self.leader_partition(f.tp)
            log = partition.log
            verdict = partition.validate_fetch(
                f.fetch_offset,
                current_leader_epoch=f.current_leader_epoch,
                last_fetched_epoch=f.last_fetched_epoch,
                replica_id=replica_id,
            )
            stable = partition.last_stable_offset
            if not verdict.should_read:
                return FetchResult(
                    f.tp,
                    verdict.error,
                    log.high_watermark,
                    log.log_start_offset,
                    diverging_epoch=verdict.diverging_epoch,
                    last_stable_offset=stable,
                )
            limit = min(f.max_bytes, budget)
            read_committed = f.isolation_level == 1 and not from_follower
            aborted = log.collect_aborted_txns(f.fetch_offset, stable) if read_committed else None
            if limit <= 0 and not first:
                return FetchResult(
                    f.tp,
                    ErrorCode.none,
                    log.high_watermark,
                    log.log_start_offset,
                    valid_read=True,
                    last_stable_offset=stable,
                    aborted_transactions=aborted,
                )
            # KIP-74: the first non-empty partition returns at least one whole batch even past the limits.
            # read_committed reads whole batches below the LSO only (an open transaction's first batch
            # starts at the LSO, so the cut never splits one).
            upper_bound = None if from_follower else (stable if read_committed else log.high_watermark)
            result = log.read(f.fetch_offset, max_bytes=max(limit, 1), upper_bound=upper_bound)
            chunks: list[bytes | FileSlice | FileRange] = list(result.chunks)  # the fetch handler reads them
            return FetchResult(
                f.tp,
                ErrorCode.none,
                log.high_watermark,
                log.log_start_offset,
                chunks,
                result.size,
                valid_read=True,
                last_stable_offset=stable,
                aborted_transactions=aborted,
            )
        except BrookError as exc:
            log_or_none = self.partitions.get(f.tp)
            if log_or_none is None:
                return FetchResult(f.tp, exc.error_code)
            # OFFSET_OUT_OF_RANGE still carries the log's bounds, so the client can reset.
            bounds = log_or_none.log
            return FetchResult(f.tp, exc.error_code, bounds.high_watermark, bounds.log_start_offset)
        except Exception:
            logger.exception("fetch failed tp=%s offset=%d", f.tp, f.fetch_offset)
            return FetchResult(f.tp, ErrorCode.unknown_server_error)

    def handle_fetch_response(
        self,
        tp: TopicPartition,
        leader_epoch: int,
        fetch_offset: int,
        error: ErrorCode,
        *,
        leader_high_watermark: int,
        leader_log_start_offset: int,
        diverging_epoch: tuple[int, int] | None,
        records: bytes,
    ) -> FollowerFetchOutcome:
        """A fetcher's answer for one partition, asked in `leader_epoch` from `fetch_offset`; stale if
        the partition's role or epoch moved on meanwhile. Raises what the append raises."""
        partition = self.partitions.get(tp)
        if partition is None or partition.is_leader or partition.leader_epoch != leader_epoch:
            return FollowerFetchOutcome.STALE
        outcome = partition.handle_fetch_response(
            fetch_offset,
            error,
            leader_high_watermark=leader_high_watermark,
            leader_log_start_offset=leader_log_start_offset,
            diverging_epoch=diverging_epoch,
            records=records,
            now_ms=self.clock.now_ms(),
        )
        return outcome

    def close(self) -> None:
        for task in self._isr_writes.values():
            task.cancel()
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._waiters.clear()
