"""GroupService: runs the GroupCoordinator on the event loop and gives it `__consumer_offsets`.

It creates the offsets topic on first use, loads (replays) the partitions this broker leads, follows
leadership changes, drives the coordinator's timers, appends its records through the ReplicaManager,
and turns the coordinator's JoinGroup/SyncGroup callbacks into futures for the handlers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from brook.broker.coordinator_partitions import CoordinatorPartitions, resolver
from brook.broker.replication_waits import ReplicationWaits
from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import (
    OFFSETS_TOPIC,
    CommitCallback,
    CoordinatorConfig,
    GroupCoordinator,
    JoinParams,
    JoinResult,
    ReplicatedCallback,
    SyncResult,
)
from brook.coordinator.fence import PauseFence, followers_confirm
from brook.coordinator.offsets_topic import replication_factor
from brook.metadata.api import BrokerInfo
from brook.records.batch import BatchHeader, iter_batches
from brook.records.control import parse_end_txn_marker
from brook.records.records import Record, build_batch, iter_records

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["GroupService", "deleted_topics", "stale_topics"]

_TICK_S = 0.1
_TRANSACTIONAL = 0x10  # batch attribute bit
_DELETED_KEPT = 100_000  # names of deleted topics remembered, to clean a partition loaded later


def coordinator_config(broker: Broker) -> CoordinatorConfig:
    c = broker.config
    return CoordinatorConfig(
        offsets_topic_partitions=c.int("offsets.topic.num.partitions"),
        min_session_timeout_ms=c.int("group.min.session.timeout.ms"),
        max_session_timeout_ms=c.int("group.max.session.timeout.ms"),
        initial_rebalance_delay_ms=c.int("group.initial.rebalance.delay.ms"),
        max_group_size=c.int("group.max.size"),
        offsets_retention_ms=c.int("offsets.retention.minutes") * 60_000,
        offsets_retention_check_interval_ms=c.int("offsets.retention.check.interval.ms"),
        offset_metadata_max_bytes=c.int("offset.metadata.max.bytes"),
    )


class GroupService(CoordinatorPartitions):
    """Owned by the broker's event loop; handlers reach it as `ctx.broker.groups`."""

    def __init__(self, broker: Broker) -> None:
        self.config = coordinator_config(broker)
        self.coordinator = GroupCoordinator(self.config, self, broker.clock, self._leader_epoch)
        super().__init__(broker, OFFSETS_TOPIC, self.config.offsets_topic_partitions, self.coordinator)
        self._fence = PauseFence(broker.config.int("zookeeper.session.timeout.ms"))
        self._resumed_at_ms: int | None = None  # wall clock at the end of the last pause
        self._confirmed: set[int] = set()  # partitions whose followers fetched from us since then
        self._replication_waits = ReplicationWaits(broker.replicas)
        self._topic_ids: dict[str, uuid.UUID] | None = None  # the topics seen at the last check
        self._deleted_seen: dict[str, None] = {}  # topics seen deleted (oldest first, at most _DELETED_KEPT)

    # --- leadership ------------------------------------------------------------------------------

    def _fenced(self) -> bool:
        return self._cluster and not self._fence.allows(self._broker.clock.monotonic_ms())

    def _leader_epoch(self, p: int) -> int | None:
        """The coordinator's Leadership query: our leader epoch of `__consumer_offsets` partition `p`."""
        if self._fenced():
            return None
        partition = self._broker.replicas.partitions.get(TopicPartition(OFFSETS_TOPIC, p))
        if partition is None or not partition.is_leader:
            return None
        if self._resumed_at_ms is not None and p not in self._confirmed:
            fetched = {r: f.last_fetch_time_ms for r, f in partition.followers.items()}
            if not followers_confirm(partition.isr, self._broker.node_id, fetched, self._resumed_at_ms):
                return None  # after a pause: not ours until the ISR shows it still follows us
            self._confirmed.add(p)
        return partition.leader_epoch

    # --- OffsetsWriter -------------------------------------------------------------------------

    def append(
        self,
        partition: int,
        records: list[tuple[bytes, bytes | None]],
        on_replicated: ReplicatedCallback | None = None,
    ) -> None:
        """Append as the partition's leader; with `on_replicated`, acks=-1 (min.insync.replicas checked
        first, then wait up to offsets.commit.timeout.ms for the ISR, as Kafka's appendForGroup)."""
        now = self._broker.clock.now_ms()
        batch = build_batch(
            [Record(i, now, key, value) for i, (key, value) in enumerate(records)], base_offset=0
        )
        tp = TopicPartition(OFFSETS_TOPIC, partition)
        replicas = self._broker.replicas
        info = replicas.append_records(tp, batch, required_acks=-1 if on_replicated else 1)
        if on_replicated is None:
            return
        self._replication_waits.after_append(
            tp, info.last_offset + 1, self._broker.config.int("offsets.commit.timeout.ms"), on_replicated
        )

    # --- the offsets topic and its partitions ---------------------------------------------------

    def ensure_offsets_topic(self) -> None:
        if self._broker.metadata.topic(OFFSETS_TOPIC) is not None:
            return
        c = self._broker.config
        replication = replication_factor(
            c.int("offsets.topic.replication.factor"),
            len(self._broker.metadata.live_brokers()),
            single_node=not self._cluster,
        )
        if replication is None:
            return  # FindCoordinator answers COORDINATOR_NOT_AVAILABLE until enough brokers are up
        # created off the event loop; until it exists FindCoordinator answers COORDINATOR_NOT_AVAILABLE
        self._broker.topics.create_topic_in_background(
            OFFSETS_TOPIC,
            self.config.offsets_topic_partitions,
            replication,
            {"cleanup.policy": "compact", "segment.bytes": c.get("offsets.topic.segment.bytes")},
            internal=True,
            then=self._on_offsets_topic_created,
        )

    def _on_offsets_topic_created(self) -> None:
        self.sync_ownership()
        self._load_pending()  # a new topic's logs are empty: loading them is instant

    def coordinator_for(self, group_id: str) -> BrokerInfo | None:
        """The broker leading the group's `__consumer_offsets` partition (None if there is none)."""
        self.ensure_offsets_topic()
        return self._coordinator_of(self.coordinator.partition_for(group_id))

    def _may_serve(self, p: int) -> bool:
        return not self._fenced()  # our metadata may be stale after a pause: COORDINATOR_NOT_AVAILABLE

    def _after_load(self, p: int) -> None:
        self._remove_stale_offsets(p)

    def _replay_chunk(self, p: int, data: bytes, offset: int) -> tuple[int, int]:
        view = memoryview(data)
        replayed = 0
        for pos, header in iter_batches(view):
            if header.is_control:
                self._replay_marker(p, view[pos : pos + header.size], header, offset)
            else:
                try:
                    records = iter_records(view[pos : pos + header.size], header)
                    for record in records:
                        if record.offset < offset:
                            continue
                        if header.is_transactional and record.key is not None:
                            self.coordinator.replay_txn_offset(
                                p, header.producer_id, record.key, record.value
                            )
                        else:
                            self.coordinator.replay(p, record.key, record.value)
                        replayed += 1
                except BrookError as exc:  # a damaged batch: skip it, keep the rest
                    logger.warning(
                        "skipping unreadable batch in __consumer_offsets partition=%d offset=%d: %s",
                        p,
                        header.base_offset,
                        exc,
                    )
            offset = max(offset, header.next_offset)
        return offset, replayed

    def _replay_marker(self, p: int, batch: memoryview, header: BatchHeader, offset: int) -> None:
        """A transaction marker while loading: the producer's pending transactional offsets settle."""
        if header.next_offset <= offset:
            return
        try:
            marker = parse_end_txn_marker(batch, header)
        except BrookError as exc:
            logger.warning("skipping unreadable marker in __consumer_offsets partition=%d: %s", p, exc)
            return
        if marker is not None:
            self.coordinator.complete_txn(p, header.producer_id, marker.is_commit)

    # --- transactional offset commits ---------------------------------------------------------

    def append_transactional(
        self,
        partition: int,
        records: list[tuple[bytes, bytes | None]],
        producer_id: int,
        producer_epoch: int,
        on_replicated: ReplicatedCallback,
    ) -> None:
        """TxnOffsetCommit's write: one transactional batch of the producer, acks=all. Its sequence continues
        the producer's on this partition (Kafka skips the check for the coordinator's own appends)."""
        tp = TopicPartition(OFFSETS_TOPIC, partition)
        replicas = self._broker.replicas
        partition_state = replicas.leader_partition(tp)
        sequence = 0
        for producer in partition_state.producer_state.producers():
            if producer.producer_id == producer_id and producer.producer_epoch == producer_epoch:
                sequence = producer.last_sequence + 1 if producer.last_sequence >= 0 else 0
        now = self._broker.clock.now_ms()
        batch = build_batch(
            [Record(i, now, key, value) for i, (key, value) in enumerate(records)],
            base_offset=0,
            attributes=_TRANSACTIONAL,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            base_sequence=sequence % (1 << 31),
        )
        info = replicas.append_records(tp, batch, required_acks=-1)
        self._replication_waits.after_append(
            tp, info.last_offset + 1, self._broker.config.int("offsets.commit.timeout.ms"), on_replicated
        )

    def _on_txn_marker(
        self, tp: TopicPartition, producer_id: int, producer_epoch: int, committed: bool
    ) -> None:
        """ReplicaManager's marker listener: a marker on a `__consumer_offsets` partition we lead was replicated."""
        if tp.topic == OFFSETS_TOPIC:
            self.coordinator.complete_txn(tp.partition, producer_id, committed)

    def txn_commit(
        self,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: dict[TopicPartition, tuple[int, int, str | None]],
    ) -> asyncio.Future[tuple[ErrorCode, dict[TopicPartition, ErrorCode]]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[ErrorCode, dict[TopicPartition, ErrorCode]]] = loop.create_future()
        resolve = resolver(future)
        self.coordinator.txn_commit_offsets(
            group_id,
            producer_id,
            producer_epoch,
            generation_id,
            member_id,
            group_instance_id,
            offsets,
            lambda error, results: resolve((error, results)),
        )
        return future

    # --- deleted topics -------------------------------------------------------------------------

    def remove_deleted_topics(self) -> None:
        """Every broker watches the metadata for deleted topics (gone, or recreated under a new topic id),
        as Kafka's brokers are told by the controller; the coordinator of each group removes their offsets."""
        current = {name: state.topic_id for name, state in self._broker.metadata.topics().items()}
        previous, self._topic_ids = self._topic_ids, current
        if previous is None:
            return
        deleted = deleted_topics(previous, current)
        for name in deleted:
            self._deleted_seen.pop(name, None)
            self._deleted_seen[name] = None
        while len(self._deleted_seen) > _DELETED_KEPT:
            del self._deleted_seen[next(iter(self._deleted_seen))]
        if deleted:
            removed = self.coordinator.remove_deleted_topics(deleted)
            logger.info(
                "topics deleted: %s; removed %d committed offsets", ",".join(sorted(deleted)), removed
            )

    def _remove_stale_offsets(self, p: int) -> None:
        """After loading partition `p`: offsets of deleted topics whose tombstones did not make it (an acks=1
        append lost in a failover, a crash before the log reached the disk) are removed again."""
        existing = set(self._broker.metadata.topics())
        known_deleted = None if not self._cluster else set(self._deleted_seen)
        stale = stale_topics(self.coordinator.committed_topics(p), existing, known_deleted)
        if stale:
            removed = self.coordinator.remove_deleted_topics(stale, partition=p)
            logger.info(
                "removed %d offsets of deleted topics %s from __consumer_offsets partition=%d",
                removed,
                ",".join(sorted(stale)),
                p,
            )

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Mark the partitions this broker leads as loading, then load them and run the timers."""
        if self._broker.metadata.topic(OFFSETS_TOPIC) is not None:
            self.sync_ownership()
        self.remove_deleted_topics()  # the first look: what exists now
        self._broker.replicas.txn_marker_listeners.append(self._on_txn_marker)
        return asyncio.create_task(self._run())

    def shutdown(self) -> None:
        """Answer every parked JoinGroup/SyncGroup (NOT_COORDINATOR) so connections can close promptly."""
        self._stopped = True
        for p in sorted(self.coordinator.owned_partitions):
            self.coordinator.unload(p)

    async def _run(self) -> None:
        watcher = asyncio.create_task(self._watch_pauses()) if self._cluster else None
        try:
            while True:
                try:
                    if self._broker.metadata.topic(OFFSETS_TOPIC) is not None:
                        self.sync_ownership()
                    self.remove_deleted_topics()
                    await self._load_queued()  # yields between chunks: requests keep flowing meanwhile
                    self.coordinator.tick(self._broker.clock.now_ms())
                except Exception:
                    logger.exception("group coordinator tick failed")
                await asyncio.sleep(_TICK_S)
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _watch_pauses(self) -> None:
        """Cluster mode: notice that the process was frozen (SIGSTOP) and stop serving (see fence.py)."""
        while True:
            if self._fence.observe(self._broker.clock.monotonic_ms()):
                self._resumed_at_ms = self._broker.clock.now_ms()
                self._confirmed.clear()
                logger.warning(
                    "the broker was frozen for more than %d ms: serving no group for %d ms, until the "
                    "metadata catches up",
                    self._fence.pause_threshold_ms,
                    self._fence.hold_ms,
                )
                self.sync_ownership()  # fenced: unloads every partition, failing pending calls
            await asyncio.sleep(_TICK_S)

    # --- futures for the handlers --------------------------------------------------------------

    def commit(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: dict[TopicPartition, tuple[int, int, str | None]],
        retention_ms: int,
    ) -> asyncio.Future[tuple[ErrorCode, dict[TopicPartition, ErrorCode]]]:
        """OffsetCommit: resolved once the offsets topic's ISR has the commit, or the write failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[ErrorCode, dict[TopicPartition, ErrorCode]]] = loop.create_future()
        resolve = resolver(future)
        callback: CommitCallback = lambda error, results: resolve((error, results))  # noqa: E731
        self.coordinator.commit_offsets(
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            offsets,
            callback,
            retention_ms=retention_ms,
        )
        return future

    def join(self, params: JoinParams) -> asyncio.Future[JoinResult]:
        future: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        self.coordinator.join_group(params, resolver(future))
        return future

    def sync(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        assignments: dict[str, bytes],
        protocol_type: str | None,
        protocol_name: str | None,
    ) -> asyncio.Future[SyncResult]:
        future: asyncio.Future[SyncResult] = asyncio.get_running_loop().create_future()
        self.coordinator.sync_group(
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            assignments,
            resolver(future),
            protocol_type=protocol_type,
            protocol_name=protocol_name,
        )
        return future


def stale_topics(committed: set[str], existing: set[str], known_deleted: set[str] | None) -> set[str]:
    """Topics with committed offsets that no longer exist. On one node (`known_deleted` None) the metadata is
    complete: every topic missing from it is gone (a commit is only accepted for a topic that exists). On a
    cluster this broker's metadata may lag behind another broker's commit, so only topics it saw deleted."""
    missing = committed - existing
    return missing if known_deleted is None else missing & known_deleted


def deleted_topics(previous: Mapping[str, uuid.UUID], current: Mapping[str, uuid.UUID]) -> list[str]:
    """Topics (by name) deleted between two looks at the metadata: gone, or there again under another topic
    id (deleted and created anew in between: the old one's offsets must go all the same)."""
    return sorted(name for name, topic_id in previous.items() if current.get(name) != topic_id)
