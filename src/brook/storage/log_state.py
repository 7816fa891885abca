"""LogState: what every part of a FileLog shares: its segment list, its offsets and its fault handling.

FileLog (log.py) is built from one class per concept, each in its own module and each a subclass of
this one: the append path and segment rolling (log_append.py), reads (log_read.py), truncation,
deletion and retention (log_deletion.py), flush and close (log_durability.py). This module holds the
state they all read and write, the log's read-only properties, the offline/fault rules and the
segment helpers more than one of them needs (find a segment by offset, walk the batch headers from an
offset, start a new segment). Opening a log rebuilds the leader epochs a crash may have lost from
those headers.

Owned by its partition's owner, like the FileLog it is part of (see log.py).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from brook.common.clock import Clock
from brook.common.errors import LogDirOffline, OutOfDescriptors
from brook.common.files import is_out_of_descriptors
from brook.common.histogram import LockedHistogram
from brook.common.types import TopicPartition
from brook.records.batch import BatchHeader
from brook.storage.api import LogConfig
from brook.storage.checkpoint import LEADER_EPOCH_CHECKPOINT
from brook.storage.epoch import LeaderEpochCache
from brook.storage.loader import LoadResult
from brook.storage.open_files import SegmentFiles
from brook.storage.segment import INDEX_SUFFIX, TIME_INDEX_SUFFIX, LogSegment, log_path
from brook.storage.txn_index import TransactionIndexes

__all__ = ["LogState", "parse_partition_dir"]

logger = logging.getLogger(__name__)


def parse_partition_dir(name: str) -> TopicPartition:
    """`<topic>-<partition>`: topics may contain '-', so the partition is after the last one."""
    topic, _, partition = name.rpartition("-")
    if not topic or not partition.isdigit():
        raise ValueError(f"not a partition directory: {name!r}")
    return TopicPartition(topic, int(partition))


class LogState:
    flush_stats: LockedHistogram | None = None  # the owner's flush latency histogram (LogManager sets it)

    def __init__(
        self,
        directory: Path,
        config: LogConfig,
        clock: Clock,
        loaded: LoadResult,
        *,
        on_failure: Callable[[Path], None] | None = None,
        flush_on_roll: bool = True,
        files: SegmentFiles | None = None,
        had_clean_shutdown: bool = False,
    ) -> None:
        self.directory = directory
        self._files = files if files is not None else SegmentFiles()
        # False: a roll inside an append leaves the old segment's fsync to the caller (AppendInfo.rolled),
        # so a broker can run it on a worker thread instead of stalling its event loop for it.
        self._flush_on_roll = flush_on_roll
        self.tp = parse_partition_dir(directory.name)
        self.config = config
        self.clock = clock
        self.load_result = loaded
        self._segments: list[LogSegment] = loaded.segments
        self._bases = [s.base_offset for s in self._segments]  # kept equal to the segments' base offsets
        self._txn_indexes = TransactionIndexes(directory, self._bases, loaded.txn_index_bases)
        # the partition's last stable offset, for the cleaner (set by the partition's owner)
        self.stable_offset_source: Callable[[], int] | None = None
        self._log_start_offset = loaded.log_start_offset
        self._recovery_point = loaded.recovery_point
        self._high_watermark = loaded.log_end_offset
        self._epochs = LeaderEpochCache(directory / LEADER_EPOCH_CHECKPOINT)
        self._pending_deletes: list[tuple[int, LogSegment]] = []  # (due at ms, segment renamed .deleted)
        self._epoch_checkpoint_pending = False
        self._synced_end = 0  # log end offset written by close(fsync=False), durable after a sync
        self._unflushed_messages = 0
        self._last_flush_ms = clock.now_ms()
        self._on_failure = on_failure
        self._offline = False
        self._closed = False
        if not had_clean_shutdown or not self._epochs.entries:
            self._rebuild_epochs(loaded)
        self._epochs.truncate_from_end(loaded.log_end_offset, at_load=True)

    def _rebuild_epochs(self, loaded: LoadResult) -> None:
        """The epoch file is not fsynced on every change (epoch.py): after a crash, assign the epoch of
        every batch from the recovery point on (from the log start if the file has no entries), reading
        batch headers only."""
        start = loaded.recovery_point if self._epochs.entries else loaded.log_start_offset
        if start >= loaded.log_end_offset:
            return
        epochs = ((h.partition_leader_epoch, h.base_offset) for h in self.batch_headers(start))
        if self._epochs.rebuild(epochs, loaded.log_end_offset):
            logger.info(
                "rebuilt leader epochs tp=%s from=%d entries=%s", self.tp, start, self._epochs.entries
            )

    # -- properties ------------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self._segments[-1].next_offset

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def segments(self) -> list[LogSegment]:
        return list(self._segments)

    @property
    def active_segment(self) -> LogSegment:
        return self._segments[-1]

    @property
    def leader_epoch_entries(self) -> list[tuple[int, int]]:
        return self._epochs.entries

    @property
    def latest_epoch(self) -> int:
        return self._epochs.latest_epoch

    @property
    def is_offline(self) -> bool:
        return self._offline

    # -- faults ----------------------------------------------------------------------------------

    def _check_online(self) -> None:
        if self._offline:
            raise LogDirOffline(f"log dir of {self.tp} is offline ({self.directory.parent})")
        if self._closed:
            raise LogDirOffline(f"log {self.tp} is closed")

    def mark_offline(self) -> None:
        self._offline = True

    def _fail(self, exc: OSError) -> LogDirOffline | OutOfDescriptors:
        """An OSError means the disk under this log dir is unusable: stop using it (KIP-112). Except
        running out of descriptors: that is a limit of this process, retriable, and the dir stays online."""
        if is_out_of_descriptors(exc):
            logger.warning("out of file descriptors tp=%s error=%s", self.tp, exc)
            return OutOfDescriptors(f"no file descriptor to spare for {self.tp}: {exc}")
        logger.error("log dir failed tp=%s dir=%s error=%s", self.tp, self.directory.parent, exc)
        self._offline = True
        if self._on_failure is not None:
            self._on_failure(self.directory.parent)
        return LogDirOffline(f"I/O error on {self.tp} in {self.directory.parent}: {exc}")

    # -- segments --------------------------------------------------------------------------------

    def _segment_index(self, offset: int) -> int:
        """The index of the segment that holds `offset` (the first one for an offset below the log)."""
        return max(0, bisect.bisect_right(self._bases, offset) - 1)

    def _new_segment(self, base_offset: int) -> LogSegment:
        """A new empty active segment; stale files at its offset (from a truncation) are removed first."""
        path = log_path(self.directory, base_offset)
        for stale in (path, path.with_suffix(INDEX_SUFFIX), path.with_suffix(TIME_INDEX_SUFFIX)):
            stale.unlink(missing_ok=True)
        self._txn_indexes.remove(base_offset)
        segment = LogSegment(
            self.directory,
            base_offset,
            index_bytes=self.config.segment_index_bytes,
            index_interval_bytes=self.config.index_interval_bytes,
            now_ms=self.clock.now_ms(),
            files=self._files,
        )
        segment.assume_empty()
        segment.make_active()
        return segment

    def batch_headers(self, from_offset: int, *, newer_than_ms: int | None = None) -> Iterator[BatchHeader]:
        """The header of every batch whose last offset is >= `from_offset`, in log order, read 61 bytes
        at a time (no record data); with `newer_than_ms`, segments whose largest timestamp is older are
        skipped whole (their time index says so). The log's owner only: no append or truncation while
        iterating."""
        for _, _, header in self._positioned_headers(from_offset, newer_than_ms):
            yield header

    def _positioned_headers(
        self, from_offset: int, newer_than_ms: int | None
    ) -> Iterator[tuple[LogSegment, int, BatchHeader]]:
        for segment in self._segments[self._segment_index(from_offset) :]:
            if segment.next_offset <= from_offset:
                continue
            if newer_than_ms is not None and segment.max_timestamp < newer_than_ms:
                continue
            found = segment.translate_offset(from_offset)
            if found is None:
                continue
            position, first = found
            header: BatchHeader | None = first
            while header is not None:
                yield segment, position, header
                position += header.size
                header = segment.header_at(position)
