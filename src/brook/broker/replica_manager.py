"""ReplicaManager: the partitions this broker hosts, produce appends and (long-polling) fetch reads.

Owned by the event loop. Appends run synchronously inside the request's task, so they reach the log
in arrival order; a parked fetch waits on a future that the next append to one of its partitions
completes (no polling).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from brook.common.clock import Clock
from brook.common.errors import (
    BrookError,
    ErrorCode,
    LogDirOffline,
    UnknownTopicOrPartition,
)
from brook.common.types import TopicPartition
from brook.metadata.api import TopicState
from brook.replication.partition import Partition
from brook.storage.api import AppendInfo, LogConfig

logger = logging.getLogger(__name__)

__all__ = ["FetchPartition", "FetchResult", "ReplicaManager"]


@dataclass(frozen=True, slots=True)
class FetchPartition:
    tp: TopicPartition
    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int = -1


@dataclass(slots=True)
class FetchResult:
    tp: TopicPartition
    error_code: ErrorCode
    high_watermark: int = -1
    log_start_offset: int = -1
    records: list[bytes] = field(default_factory=list)
    size: int = 0


class ReplicaManager:
    def __init__(self, node_id: int, log_manager: object, clock: Clock) -> None:
        from brook.storage.manager import LogManager

        assert isinstance(log_manager, LogManager)
        self.node_id = node_id
        self.log_manager = log_manager
        self.clock = clock
        self.partitions: dict[TopicPartition, Partition] = {}
        self._waiters: dict[TopicPartition, set[asyncio.Future[None]]] = {}
        self._flushes: dict[TopicPartition, asyncio.Task[None]] = {}

    # --- hosting -------------------------------------------------------------------------------

    def sync_with(self, topics: Mapping[str, TopicState], configs: Mapping[str, LogConfig]) -> None:
        """Open or create logs for every partition assigned here; drop the ones no longer assigned."""
        wanted: set[TopicPartition] = set()
        for state in topics.values():
            for p in state.partitions.values():
                if self.node_id not in p.replicas:
                    continue
                tp = TopicPartition(state.name, p.partition)
                wanted.add(tp)
                partition = self.partitions.get(tp)
                if partition is None:
                    self._open_partition(tp, configs[state.name], p.leader, p.leader_epoch, p.replicas, p.isr)
                else:
                    partition.leader, partition.leader_epoch = p.leader, p.leader_epoch
                    partition.replicas, partition.isr = p.replicas, p.isr
                    if partition.config != configs[state.name]:
                        partition.config = configs[state.name]
                        self.log_manager.update_config(tp, partition.config)
        for tp in [tp for tp in self.partitions if tp not in wanted]:
            self._remove_partition(tp)

    def _open_partition(
        self,
        tp: TopicPartition,
        config: LogConfig,
        leader: int,
        leader_epoch: int,
        replicas: tuple[int, ...],
        isr: tuple[int, ...],
    ) -> None:
        log = self.log_manager.get(tp) or self.log_manager.create(tp, config)
        partition = Partition(tp, log, config, self.node_id, leader, leader_epoch, replicas, isr)
        if partition.is_leader and isr == (self.node_id,):
            log.update_high_watermark(log.log_end_offset)
        partition.rebuild_producer_state(self.clock.now_ms())
        self.partitions[tp] = partition
        logger.info(
            "hosting partition tp=%s leader=%d epoch=%d leo=%d", tp, leader, leader_epoch, log.log_end_offset
        )

    def _remove_partition(self, tp: TopicPartition) -> None:
        self.partitions.pop(tp)
        self.log_manager.delete(tp)
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

    def append_records(self, tp: TopicPartition, data: bytearray | memoryview) -> AppendInfo:
        partition = self.leader_partition(tp)
        try:
            info = partition.append_as_leader(data, self.clock.now_ms())
        except LogDirOffline:
            logger.error("log dir offline while appending tp=%s", tp)
            raise
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
    ) -> None:
        """acks=all: on a single node the ISR is this broker, so the append itself is enough."""
        return None

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
    ) -> list[FetchResult]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait_ms / 1000
        while True:
            results = self._read_all(wanted, max_bytes, from_follower)
            total = sum(r.size for r in results)
            remaining = deadline - loop.time()
            if total >= max(min_bytes, 1) or remaining <= 0 or any(r.error_code for r in results):
                return results
            waiter: asyncio.Future[None] = loop.create_future()
            for f in wanted:
                self._waiters.setdefault(f.tp, set()).add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                for f in wanted:
                    waiters = self._waiters.get(f.tp)
                    if waiters is not None:
                        waiters.discard(waiter)
                        if not waiters:
                            del self._waiters[f.tp]

    def _read_all(
        self, wanted: list[FetchPartition], max_bytes: int, from_follower: bool
    ) -> list[FetchResult]:
        results: list[FetchResult] = []
        budget = max_bytes
        for f in wanted:
            result = self._read_one(f, budget, from_follower, first=all(r.size == 0 for r in results))
            budget -= result.size
            results.append(result)
        return results

    def _read_one(self, f: FetchPartition, budget: int, from_follower: bool, first: bool) -> FetchResult:
        try:
            partition = self.leader_partition(f.tp)
            log = partition.log
            if f.current_leader_epoch >= 0 and f.current_leader_epoch != partition.leader_epoch:
                code = (
                    ErrorCode.fenced_leader_epoch
                    if f.current_leader_epoch < partition.leader_epoch
                    else ErrorCode.unknown_leader_epoch
                )
                return FetchResult(f.tp, code, log.high_watermark, log.log_start_offset)
            limit = min(f.max_bytes, budget)
            if limit <= 0 and not first:
                return FetchResult(f.tp, ErrorCode.none, log.high_watermark, log.log_start_offset)
            # KIP-74: the first non-empty partition returns at least one whole batch even past the limits.
            result = log.read(
                f.fetch_offset,
                max_bytes=max(limit, 1),
                upper_bound=None if from_follower else log.high_watermark,
            )
            chunks = [c if isinstance(c, bytes) else c.read_bytes() for c in result.chunks]
            return FetchResult(
                f.tp, ErrorCode.none, log.high_watermark, log.log_start_offset, chunks, result.size
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

    def close(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._waiters.clear()
