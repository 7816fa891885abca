"""Opening a partition directory: find the segments, check or rebuild their indexes, recover after a crash.

After a clean shutdown (the log manager saw `.kafka_cleanshutdown`) every segment is trusted after a
cheap sanity check of its indexes. After a crash, every segment from the one holding the recovery point
onwards is scanned batch by batch (length, magic, CRC32C, increasing offsets); the first invalid or torn
batch and everything after it are cut off, and the indexes of scanned segments are rebuilt. Segments
before the recovery point were fsynced when they rolled, so they are not scanned: that keeps recovery
of a large log proportional to what was written since the last flush.

Leftovers of interrupted operations are removed first: `*.deleted` (retention/truncation that had not
finished), `*.cleaned` and `*.tmp` (compaction output that was never swapped in); `*.swap` files are
compaction output that was complete, so they replace the segments they cover.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from brook.common.clock import Clock
from brook.storage.api import LogConfig
from brook.storage.index import IndexCorrupt
from brook.storage.segment import (
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
    segment_base_offset,
)

__all__ = ["CLEANED_SUFFIX", "LoadResult", "LogLoader", "SWAP_SUFFIX"]

logger = logging.getLogger(__name__)

CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"


@dataclass
class LoadResult:
    """What loading did; `bytes_truncated` > 0 means data after a crash was lost (and logged)."""

    segments: list[LogSegment]
    log_start_offset: int
    log_end_offset: int
    recovery_point: int
    bytes_truncated: int = 0
    segments_recovered: int = 0
    indexes_rebuilt: list[int] = field(default_factory=list)
    segments_removed: int = 0


class LogLoader:
    def __init__(
        self,
        directory: Path,
        config: LogConfig,
        clock: Clock,
        *,
        recovery_point: int = 0,
        log_start_offset: int = 0,
        had_clean_shutdown: bool = False,
    ) -> None:
        self.directory = directory
        self.config = config
        self.clock = clock
        self.recovery_point = recovery_point
        self.log_start_offset = log_start_offset
        self.had_clean_shutdown = had_clean_shutdown

    def _new_segment(self, base_offset: int) -> LogSegment:
        return LogSegment(
            self.directory,
            base_offset,
            index_bytes=self.config.segment_index_bytes,
            index_interval_bytes=self.config.index_interval_bytes,
            now_ms=self.clock.now_ms(),
        )

    def load(self) -> LoadResult:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        bases = sorted(segment_base_offset(p) for p in self.directory.glob(f"*{LOG_SUFFIX}"))
        result = LoadResult([], self.log_start_offset, 0, self.recovery_point)
        # Recovery starts at the segment holding the recovery point.
        first_unflushed = max([b for b in bases if b <= self.recovery_point], default=0)
        for i, base in enumerate(bases):
            if result.segments and base < result.segments[-1].next_offset:
                # Offsets must keep increasing across segments; this one and the rest cannot be trusted.
                result.segments_removed += self._remove(bases[i:], result)
                break
            segment = self._new_segment(base)
            result.segments.append(segment)
            if not self.had_clean_shutdown and base >= first_unflushed:
                cut = self._recover(segment, result)
            else:
                cut = self._check(segment, result)
            if cut:
                result.segments_removed += self._remove(bases[i + 1 :], result)
                break
        if not result.segments:
            result.segments.append(self._new_segment(self.log_start_offset))
        for segment in result.segments[:-1]:
            segment.on_become_inactive()
        active = result.segments[-1]
        active.make_active()
        result.log_end_offset = active.next_offset
        result.log_start_offset = min(
            max(self.log_start_offset, result.segments[0].base_offset), result.log_end_offset
        )
        if result.segments_recovered:
            for segment in result.segments:
                if segment.base_offset >= first_unflushed:
                    segment.flush()
            result.recovery_point = result.log_end_offset
        else:
            result.recovery_point = min(self.recovery_point, result.log_end_offset)
        logger.info(
            "loaded log dir=%s log_start_offset=%d log_end_offset=%d segments=%d recovered=%d bytes_truncated=%d",
            self.directory, result.log_start_offset, result.log_end_offset, len(result.segments),
            result.segments_recovered, result.bytes_truncated,
        )  # fmt: skip
        return result

    def _recover(self, segment: LogSegment, result: LoadResult) -> int:
        cut = segment.recover()
        result.bytes_truncated += cut
        result.segments_recovered += 1
        return cut

    def _check(self, segment: LogSegment, result: LoadResult) -> int:
        try:
            segment.offset_index.sanity_check(segment.size)
            if not segment.load_state_from_indexes():
                raise IndexCorrupt(f"{segment.path}: indexes disagree with the log")
            segment.time_index.sanity_check(segment.next_offset)
        except IndexCorrupt as exc:
            logger.warning("rebuilding indexes reason=%s", exc)
            result.indexes_rebuilt.append(segment.base_offset)
            return self._recover(segment, result)
        return 0

    def _remove(self, bases: list[int], result: LoadResult) -> int:
        for base in bases:
            segment = self._new_segment(base)
            logger.warning(
                "removing segment after corruption dir=%s base_offset=%d bytes_cut=%d",
                self.directory,
                base,
                segment.size,
            )
            result.bytes_truncated += segment.size
            segment.close_and_remove()
        return len(bases)

    def _remove_leftovers(self) -> None:
        for path in self.directory.iterdir():
            name = path.name
            if name.endswith((DELETED_SUFFIX, CLEANED_SUFFIX, ".tmp")):
                path.unlink()
            elif name.endswith(SWAP_SUFFIX):
                # A finished compaction: the swap file replaces the segment; its indexes are stale.
                target = path.with_name(name[: -len(SWAP_SUFFIX)])
                for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
                    target.with_suffix(suffix).unlink(missing_ok=True)
                os.replace(path, target)
        logs = {segment_base_offset(p) for p in self.directory.glob(f"*{LOG_SUFFIX}")}
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            for path in self.directory.glob(f"*{suffix}"):
                if segment_base_offset(path) not in logs:
                    path.unlink()
