"""Opening a partition directory: find the segments, check or rebuild their indexes, recover after a crash.

Start-up does only what it needs: one listing of the directory (os.scandir), no descriptor and no
index read for a trusted inactive segment (it is "lazy", see segment.py), and no fsync.

After a clean shutdown (the log manager saw `.kafka_cleanshutdown`) every segment is trusted; only the
active one is opened and its indexes sanity-checked (an empty one not even that). After a crash, every
segment from the one holding the recovery point onwards is scanned batch by batch (length, magic,
CRC32C, increasing offsets); the first invalid or torn batch and everything after it are cut off, and the
indexes of scanned segments are rebuilt in memory. Segments before the recovery point were fsynced when
they rolled, so they are not scanned: recovery of a large log stays proportional to what was written
since the last flush. As in Kafka, the recovery point does not move at load (nothing is fsynced here): a
second crash scans the same segments again.

Leftovers of interrupted operations are removed first: `*.deleted` (retention/truncation that had not
finished), `*.cleaned` and `*.tmp` (compaction output that was never swapped in); `*.swap` files are
compaction output that was complete, so they replace the segments they cover. So is an older release's
`producer-snapshot` (producer_snapshot.py): that partition rebuilds its producer state from the log once.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from brook.common.clock import Clock
from brook.storage.api import LogConfig
from brook.storage.open_files import SegmentFiles
from brook.storage.partition_metadata import PARTITION_METADATA_FILE, read_topic_id
from brook.storage.producer_snapshot import LEGACY_PRODUCER_SNAPSHOT
from brook.storage.segment import (
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    LogSegment,
)
from brook.storage.txn_index import TXN_INDEX_SUFFIX

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
    txn_index_bases: set[int] | None = None  # the segments with a `.txnindex` file (None: not listed)
    topic_id: uuid.UUID | None = None  # in `partition.metadata` (None: no file, or unreadable and logged)


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
        files: SegmentFiles | None = None,
    ) -> None:
        self.files = files if files is not None else SegmentFiles()
        self.directory = directory
        self.config = config
        self.clock = clock
        self.recovery_point = recovery_point
        self.log_start_offset = log_start_offset
        self.had_clean_shutdown = had_clean_shutdown
        self._txn_index_bases: set[int] = set()  # found by _list_segments
        self._has_partition_metadata = False  # found by _list_segments

    def _new_segment(self, base_offset: int, size: int | None = None) -> LogSegment:
        return LogSegment(
            self.directory,
            base_offset,
            index_bytes=self.config.segment_index_bytes,
            index_interval_bytes=self.config.index_interval_bytes,
            now_ms=self.clock.now_ms(),
            files=self.files,
            size=size,
        )

    def load(self) -> LoadResult:
        sizes = self._list_segments()
        bases = sorted(sizes)
        result = LoadResult([], self.log_start_offset, 0, self.recovery_point)
        result.txn_index_bases = self._txn_index_bases
        result.topic_id = self._read_topic_id() if self._has_partition_metadata else None
        # Recovery starts at the segment holding the recovery point.
        first_unflushed = max([b for b in bases if b <= self.recovery_point], default=0)
        for i, base in enumerate(bases):
            previous = result.segments[-1] if result.segments else None
            if previous is not None and previous.state_known and base < previous.next_offset:
                # Offsets must keep increasing across segments; this one and the rest cannot be trusted.
                result.segments_removed += self._remove(bases[i:], result)
                break
            trusted = self.had_clean_shutdown or base < first_unflushed
            if trusted and i < len(bases) - 1:
                result.segments.append(self._new_segment(base, sizes[base]))  # lazy: nothing opened
                continue
            segment = self._new_segment(base)
            segment.pinned = True  # other loader threads' LRU use must not close it under us
            result.segments.append(segment)
            cut = self._check(segment, result) if trusted else self._recover(segment, result)
            if cut:
                result.segments_removed += self._remove(bases[i + 1 :], result)
                break
        if not result.segments:
            segment = self._new_segment(self.log_start_offset)
            segment.assume_empty()
            result.segments.append(segment)
        active = result.segments[-1]
        active.make_active()
        for segment in result.segments[:-1]:
            segment.on_become_inactive()
        for segment in result.segments:
            segment.unpin()
        result.log_end_offset = active.next_offset
        result.log_start_offset = min(
            max(self.log_start_offset, result.segments[0].base_offset), result.log_end_offset
        )
        result.recovery_point = min(self.recovery_point, result.log_end_offset)
        logger.debug(
            "loaded log dir=%s log_start_offset=%d log_end_offset=%d segments=%d recovered=%d bytes_truncated=%d",
            self.directory, result.log_start_offset, result.log_end_offset, len(result.segments),
            result.segments_recovered, result.bytes_truncated,
        )  # fmt: skip
        if result.segments_recovered or result.bytes_truncated or result.indexes_rebuilt:
            logger.info(
                "recovered log dir=%s log_end_offset=%d segments_recovered=%d bytes_truncated=%d",
                self.directory, result.log_end_offset, result.segments_recovered, result.bytes_truncated,
            )  # fmt: skip
        return result

    def _read_topic_id(self) -> uuid.UUID | None:
        """partition.metadata, read here rather than by the broker on its event loop: in the loader's threads,
        and only where the listing found one."""
        try:
            return read_topic_id(self.directory)
        except (OSError, ValueError) as exc:
            logger.warning("unreadable partition.metadata dir=%s: %s", self.directory, exc)
            return None

    def _recover(self, segment: LogSegment, result: LoadResult) -> int:
        if segment.size == 0:
            segment.assume_empty()  # an empty file has nothing to scan; stale index files are cut on write
            result.segments_recovered += 1
            return 0
        cut = segment.recover()
        result.bytes_truncated += cut
        result.segments_recovered += 1
        return cut

    def _check(self, segment: LogSegment, result: LoadResult) -> int:
        if segment.size == 0:
            segment.assume_empty()  # nothing to check: no index read
            return 0
        problem = segment.check_indexes()
        if problem is not None:
            logger.warning("rebuilding indexes reason=%s", problem)
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

    def _list_segments(self) -> dict[int, int]:
        """One listing of the directory: remove leftovers, return {base offset: size} of the `.log` files."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)
            return {}
        if any(e.name.endswith(SWAP_SUFFIX) for e in entries):
            self._replace_swapped(entries)
            entries = list(os.scandir(self.directory))
        sizes: dict[int, int] = {}
        indexes: list[os.DirEntry[str]] = []
        for entry in entries:
            name = entry.name
            if name.endswith(LOG_SUFFIX):
                sizes[int(name[: -len(LOG_SUFFIX)])] = entry.stat().st_size
            elif name.endswith((INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX)):
                indexes.append(entry)
            elif name == PARTITION_METADATA_FILE:
                self._has_partition_metadata = True
            elif name.endswith((DELETED_SUFFIX, CLEANED_SUFFIX, ".tmp")) or name == LEGACY_PRODUCER_SNAPSHOT:
                os.unlink(entry.path)  # the last: an older release's producer state (producer_snapshot.py)
        self._txn_index_bases = set()
        for entry in indexes:
            base = int(entry.name.split(".", 1)[0])
            if base not in sizes:
                os.unlink(entry.path)  # an index without its segment
            elif entry.name.endswith(TXN_INDEX_SUFFIX):
                self._txn_index_bases.add(base)
        return sizes

    def _replace_swapped(self, entries: list[os.DirEntry[str]]) -> None:
        for entry in entries:
            if entry.name.endswith(SWAP_SUFFIX):
                # A finished compaction: the swap file replaces the segment; its indexes are stale.
                path = Path(entry.path)
                target = path.with_name(entry.name[: -len(SWAP_SUFFIX)])
                for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
                    target.with_suffix(suffix).unlink(missing_ok=True)
                os.replace(path, target)
