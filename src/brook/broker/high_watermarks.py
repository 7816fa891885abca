"""Each log dir's high watermark checkpoint (`replication-offset-checkpoint`, storage/high_watermark_checkpoint.py)
as the ReplicaManager keeps it: read once per dir as its partitions open, rewritten every
replica.high.watermark.checkpoint.interval.ms and at a clean stop.

A partition opens at its checkpointed HW, never at its log end: what lies past it may be a tail that a failover
takes back, and consumers must not read it (the leader raises its HW again from its ISR's fetches).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from brook.common.types import TopicPartition
from brook.replication.partition import Partition
from brook.storage.high_watermark_checkpoint import read_high_watermarks, write_high_watermarks

if TYPE_CHECKING:
    from brook.storage.manager import LogManager

__all__ = ["HighWatermarkCheckpoints"]

logger = logging.getLogger(__name__)

Hosted = Iterable[tuple[TopicPartition, Partition]]


class HighWatermarkCheckpoints:
    def __init__(self, log_manager: LogManager, hosted: Callable[[], Hosted]) -> None:
        self._log_manager = log_manager
        self._hosted = hosted  # a copy of the hosted partitions, taken on the event loop
        self._read: dict[Path, dict[TopicPartition, int]] = {}  # read once per dir at startup
        self._written: dict[Path, dict[TopicPartition, int]] = {}  # what each dir's file says now
        # one write at a time: the final one at stop may start while a periodic one, its task cancelled, still
        # writes on its thread (both write the same temporary file)
        self._write_lock = threading.Lock()

    def checkpointed(self, tp: TopicPartition) -> int:
        """The HW this partition had at the last checkpoint; its log start offset if none (Kafka: 0)."""
        log_dir = self._log_manager.log_dir_of(tp)
        if log_dir is None:
            return 0
        if log_dir not in self._read:
            self._read[log_dir] = read_high_watermarks(log_dir)
        return self._read[log_dir].get(tp, 0)

    def by_dir(self, hosted: Hosted) -> dict[Path, dict[TopicPartition, int]]:
        """The HW of each of `hosted` (a copy of the hosted partitions, so the walk may run on a worker thread),
        grouped by online log dir."""
        log_manager = self._log_manager
        by_dir: dict[Path, dict[TopicPartition, int]] = {
            d: {} for d in log_manager.log_dirs if d not in log_manager.offline_dirs
        }
        for tp, partition in hosted:
            log_dir = log_manager.log_dir_of(tp)
            if log_dir in by_dir and not partition.log.is_offline:
                by_dir[log_dir][tp] = partition.log.high_watermark
        return by_dir

    async def write(self) -> None:
        """Write replication-offset-checkpoint in every online log dir whose HWs changed since its last write,
        fsync on a worker thread.

        The walk over the partitions runs on that thread too (at 10,000 partitions it took ~20 ms, every
        replica.high.watermark.checkpoint.interval.ms, on the event loop), over a copy of the hosted partitions
        taken here. Each HW it reads is one int, and a HW a truncation lowers meanwhile is clamped to the log
        end when read back (LogReads.restore_high_watermark), as with a snapshot taken here."""
        hosted = self._hosted()
        written = self._written

        def write() -> None:
            with self._write_lock:
                for log_dir, high_watermarks in self.by_dir(hosted).items():
                    if written.get(log_dir) == high_watermarks:
                        continue  # the file says exactly this already: no rewrite, no fsync
                    written.pop(log_dir, None)
                    try:
                        write_high_watermarks(log_dir, high_watermarks)
                    except OSError as exc:
                        logger.error("writing the HW checkpoint failed dir=%s: %s", log_dir, exc)
                    else:
                        written[log_dir] = high_watermarks

        await asyncio.to_thread(write)

    async def loop(self, interval_ms: int) -> None:
        """replica.high.watermark.checkpoint.interval.ms"""
        while True:
            await asyncio.sleep(interval_ms / 1000)
            try:
                await self.write()
            except Exception:
                logger.exception("HW checkpoint pass failed")
