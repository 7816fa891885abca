"""GroupService: runs the GroupCoordinator on the event loop and gives it `__consumer_offsets`.

It creates the offsets topic on first use, loads (replays) the partitions this broker leads, follows
leadership changes, drives the coordinator's timers, appends its records through the ReplicaManager,
and turns the coordinator's JoinGroup/SyncGroup callbacks into futures for the handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import (
    OFFSETS_TOPIC,
    CoordinatorConfig,
    GroupCoordinator,
    JoinParams,
    JoinResult,
    SyncResult,
)
from brook.metadata.api import BrokerInfo
from brook.records.batch import iter_batches
from brook.records.records import Record, build_batch, iter_records

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["GroupService"]

_TICK_S = 0.1
_OWNERSHIP_CHECK_TICKS = 10
_LOAD_CHUNK_BYTES = 1024 * 1024
T = TypeVar("T")


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


class GroupService:
    """Owned by the broker's event loop; handlers reach it as `ctx.broker.groups`."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.config = coordinator_config(broker)
        self.coordinator = GroupCoordinator(self.config, self, broker.clock)
        self._to_load: list[int] = []
        self._stopped = False

    # --- OffsetsWriter -------------------------------------------------------------------------

    def append(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> None:
        now = self._broker.clock.now_ms()
        batch = build_batch(
            [Record(i, now, key, value) for i, (key, value) in enumerate(records)], base_offset=0
        )
        self._broker.replicas.append_records(TopicPartition(OFFSETS_TOPIC, partition), batch)

    async def wait_for_replication(self, group_id: str) -> ErrorCode:
        """Like acks=all: wait until the group's partition is replicated up to its end (offsets.commit.timeout.ms).

        A failure comes back as Kafka's coordinator codes (GroupMetadataManager.storeOffsets): the client
        retries, or looks for the new coordinator.
        """
        tp = TopicPartition(OFFSETS_TOPIC, self.coordinator.partition_for(group_id))
        partition = self._broker.replicas.partitions.get(tp)
        if partition is None:
            return ErrorCode.none
        end = partition.log.log_end_offset
        timeout_ms = self._broker.config.int("offsets.commit.timeout.ms")
        failed = await self._broker.replicas.wait_for_replication([(tp, end)], timeout_ms)
        code = failed.get(tp, ErrorCode.none)
        if code == ErrorCode.not_leader_or_follower:
            return ErrorCode.not_coordinator
        return ErrorCode.none if code == ErrorCode.none else ErrorCode.coordinator_not_available

    # --- the offsets topic and its partitions ---------------------------------------------------

    def ensure_offsets_topic(self) -> None:
        if self._broker.metadata.topic(OFFSETS_TOPIC) is not None:
            return
        c = self._broker.config
        replication = min(
            c.int("offsets.topic.replication.factor"), len(self._broker.metadata.live_brokers())
        )
        # created off the event loop; until it exists FindCoordinator answers COORDINATOR_NOT_AVAILABLE
        self._broker.topics.create_topic_in_background(
            OFFSETS_TOPIC,
            self.config.offsets_topic_partitions,
            max(replication, 1),
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
        state = self._broker.metadata.topic(OFFSETS_TOPIC)
        if state is None:
            return None
        partition = state.partitions.get(self.coordinator.partition_for(group_id))
        if partition is None or partition.leader < 0:
            return None
        for broker in self._broker.metadata.live_brokers():
            if broker.node_id == partition.leader:
                return broker
        return None

    def sync_ownership(self) -> None:
        """Follow leadership: load partitions this broker now leads, drop the ones it lost."""
        if self._stopped:
            return
        owned = self.coordinator.owned_partitions
        replicas = self._broker.replicas.partitions
        for p in range(self.config.offsets_topic_partitions):
            partition = replicas.get(TopicPartition(OFFSETS_TOPIC, p))
            leads = partition is not None and partition.is_leader
            if leads and p not in owned:
                self.coordinator.begin_loading(p)  # COORDINATOR_LOAD_IN_PROGRESS until loaded
                self._to_load.append(p)
            elif not leads and p in owned:
                logger.info("no longer coordinator for __consumer_offsets partition=%d", p)
                self.coordinator.unload(p)

    def _load_pending(self) -> None:
        while self._to_load:
            for _ in self._load(self._to_load.pop(0)):
                pass

    def _load(self, p: int) -> Iterator[None]:
        """Replay partition `p` into the coordinator, yielding after each chunk read from the log.

        A failure leaves the partition unowned (clients see NOT_COORDINATOR and retry); the next
        ownership check, a second later, starts loading it again.
        """
        try:
            log = self._broker.replicas.partitions[TopicPartition(OFFSETS_TOPIC, p)].log
            offset = log.log_start_offset
            end = log.high_watermark
            records = 0
            while offset < end:
                before = offset
                data = log.read(offset, max_bytes=_LOAD_CHUNK_BYTES, upper_bound=end).to_bytes()
                if not data:
                    break
                offset, replayed = self._replay_chunk(p, data, offset)
                records += replayed
                if offset == before:
                    logger.warning("stopped loading __consumer_offsets partition=%d at offset=%d", p, offset)
                    break
                yield
        except Exception:
            logger.exception("loading __consumer_offsets partition=%d failed; will retry", p)
            self.coordinator.unload(p)
            return
        self.coordinator.finish_loading(p)
        if records:
            logger.info("replayed __consumer_offsets partition=%d records=%d", p, records)

    def _replay_chunk(self, p: int, data: bytes, offset: int) -> tuple[int, int]:
        view = memoryview(data)
        replayed = 0
        for pos, header in iter_batches(view):
            if not header.is_control:
                try:
                    records = iter_records(view[pos : pos + header.size], header)
                    for record in records:
                        if record.offset >= offset:
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

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Mark the partitions this broker leads as loading, then load them and run the timers."""
        if self._broker.metadata.topic(OFFSETS_TOPIC) is not None:
            self.sync_ownership()
        return asyncio.create_task(self._run())

    def shutdown(self) -> None:
        """Answer every parked JoinGroup/SyncGroup (NOT_COORDINATOR) so connections can close promptly."""
        self._stopped = True
        for p in sorted(self.coordinator.owned_partitions):
            self.coordinator.unload(p)

    async def _run(self) -> None:
        while self._to_load:  # yield between chunks: requests keep flowing while partitions load
            for _ in self._load(self._to_load.pop(0)):
                await asyncio.sleep(0)
        ticks = 0
        while True:
            await asyncio.sleep(_TICK_S)
            ticks += 1
            try:
                if ticks % _OWNERSHIP_CHECK_TICKS == 0 and self._broker.metadata.topic(OFFSETS_TOPIC):
                    self.sync_ownership()
                    self._load_pending()
                self.coordinator.tick(self._broker.clock.now_ms())
            except Exception:
                logger.exception("group coordinator tick failed")

    # --- futures for the handlers --------------------------------------------------------------

    def join(self, params: JoinParams) -> asyncio.Future[JoinResult]:
        future: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        self.coordinator.join_group(params, _resolver(future))
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
            _resolver(future),
            protocol_type=protocol_type,
            protocol_name=protocol_name,
        )
        return future


def _resolver(future: asyncio.Future[T]) -> Callable[[T], None]:
    def resolve(result: T) -> None:
        if not future.done():  # the client may have gone away (cancelled) meanwhile
            future.set_result(result)

    return resolve
