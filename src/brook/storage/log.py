"""FileLog: a partition's log on disk, a list of segments in one directory `<topic>-<partition>/`.

Directory contents:

    00000000000000000000.log / .index / .timeindex   one segment per base offset (segment.py, index.py)
    00000000000000000000.txnindex                     aborted transactions of a segment (txn_index.py)
    leader-epoch-checkpoint                           epoch -> start offset (epoch.py, checkpoint.py)
    *.deleted                                         segments waiting for file_delete_delay_ms

The recovery point and log start offset are checkpointed per log dir by the LogManager. The high
watermark lives only in memory: on a single node every appended batch is committed once the broker says
so, and after a restart HW = LEO is correct because recovery only keeps batches that were fully written
(replication will restore HW from the leader; nothing here needs it persisted).

Owned by its partition's owner (one asyncio task/lock in the broker): every method except `flush` must be
called by that owner only. `flush` may run on a worker thread (asyncio.to_thread); it only fsyncs files
that stay open meanwhile (a segment with unsynced writes is never closed by the descriptor LRU, and
deleted segments keep their files for file_delete_delay_ms).

EMFILE/ENFILE is not a disk fault: it raises OutOfDescriptors (retriable) and the log stays online;
every other OSError takes the log dir offline (`_fail`). Timestamp lookups live in timestamps.py and
retention decisions in retention.py.
"""

from __future__ import annotations

import bisect
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from brook.common.clock import Clock
from brook.common.errors import InvalidRecord, LogDirOffline, OffsetOutOfRange, OutOfDescriptors
from brook.common.files import is_out_of_descriptors
from brook.common.histogram import LockedHistogram
from brook.common.types import TopicPartition
from brook.records.batch import (
    BatchHeader,
    iter_batches,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
)
from brook.storage.api import AppendInfo, FileSlice, LogConfig, ReadResult, TimestampOffset
from brook.storage.checkpoint import LEADER_EPOCH_CHECKPOINT
from brook.storage.epoch import LeaderEpochCache
from brook.storage.loader import LoadResult, LogLoader
from brook.storage.open_files import SegmentFiles
from brook.storage.retention import below_high_watermark, past_retention_bytes, past_retention_ms
from brook.storage.segment import INDEX_SUFFIX, TIME_INDEX_SUFFIX, BatchInfo, LogSegment, log_path
from brook.storage.timestamps import first_offset_at_or_after, max_timestamp_offset
from brook.storage.txn_index import AbortedTxn, TransactionIndexes

__all__ = ["FileLog", "parse_partition_dir"]

logger = logging.getLogger(__name__)

_MAX_CONTROL_BATCH_BYTES = 4096  # a marker is 78 bytes; anything far larger is not read whole in a replay
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3


def parse_partition_dir(name: str) -> TopicPartition:
    """`<topic>-<partition>`: topics may contain '-', so the partition is after the last one."""
    topic, _, partition = name.rpartition("-")
    if not topic or not partition.isdigit():
        raise ValueError(f"not a partition directory: {name!r}")
    return TopicPartition(topic, int(partition))


class FileLog:
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
        self._bases = [s.base_offset for s in self._segments]
        self._txn_indexes = TransactionIndexes(directory, self._bases)
        # the partition's last stable offset, for the cleaner (set by the partition's owner)
        self.stable_offset_source: Callable[[], int] | None = None
        self._log_start_offset = loaded.log_start_offset
        self._recovery_point = loaded.recovery_point
        self._high_watermark = loaded.log_end_offset
        self._epochs = LeaderEpochCache(directory / LEADER_EPOCH_CHECKPOINT)
        if not had_clean_shutdown or not self._epochs.entries:
            self._rebuild_epochs(loaded)
        self._epochs.truncate_from_end(loaded.log_end_offset)
        self._pending_deletes: list[tuple[int, LogSegment]] = []
        self._epoch_checkpoint_pending = False
        self._synced_end = 0  # log end offset written by close(fsync=False), durable after a sync
        self._unflushed_messages = 0
        self._last_flush_ms = clock.now_ms()
        self._on_failure = on_failure
        self._offline = False
        self._closed = False

    @classmethod
    def open(
        cls,
        directory: Path,
        config: LogConfig | None = None,
        *,
        clock: Clock,
        recovery_point: int = 0,
        log_start_offset: int = 0,
        had_clean_shutdown: bool = False,
        on_failure: Callable[[Path], None] | None = None,
        flush_on_roll: bool = True,
        files: SegmentFiles | None = None,
    ) -> FileLog:
        """Open (creating if needed) the log in `directory`, recovering from `recovery_point` on."""
        config = config or LogConfig()
        files = files if files is not None else SegmentFiles()
        loader = LogLoader(
            directory,
            config,
            clock,
            recovery_point=recovery_point,
            log_start_offset=log_start_offset,
            had_clean_shutdown=had_clean_shutdown,
            files=files,
        )
        return cls(
            directory,
            config,
            clock,
            loader.load(),
            on_failure=on_failure,
            flush_on_roll=flush_on_roll,
            files=files,
            had_clean_shutdown=had_clean_shutdown,
        )

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

    def replay_batches(self, from_offset: int) -> Iterator[tuple[BatchHeader, bytes | None]]:
        """`batch_headers` for a producer-state replay: each header, with the whole batch's bytes for a
        control batch (a marker's one record, read where the header was: no index lookup per marker)."""
        for segment, position, header in self._positioned_headers(from_offset, None):
            if header.is_control and header.size <= _MAX_CONTROL_BATCH_BYTES:
                try:
                    yield header, os.pread(segment.fd, header.size, position)
                except OSError as exc:
                    raise self._fail(exc) from exc
            else:
                yield header, None

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

    # -- appends ---------------------------------------------------------------------------------

    def append_as_leader(self, batches: bytearray | memoryview, *, leader_epoch: int) -> AppendInfo:
        self._check_online()
        now_ms = self.clock.now_ms()
        log_append_time = self.config.message_timestamp_type == "LogAppendTime"
        offset = self.log_end_offset
        infos: list[BatchInfo] = []
        for pos, header in iter_batches(batches):
            set_base_offset(batches, pos, offset)
            set_partition_leader_epoch(batches, pos, leader_epoch)
            max_timestamp = header.max_timestamp
            if log_append_time:
                set_log_append_time(batches, pos, header, now_ms)
                max_timestamp = now_ms
            last = offset + header.last_offset_delta
            infos.append(BatchInfo(pos, header.size, offset, last, max_timestamp))
            offset = last + 1
        if not infos:
            raise InvalidRecord("no complete record batch to append")
        # Epochs first (Kafka's order): a flush on a worker thread that sees the batch in the log end
        # offset then also sees its epoch in the file it syncs.
        self._assign_epoch(leader_epoch, infos[0].base_offset)
        rolled = self._append_or_forget_epochs(batches, infos, now_ms)
        return AppendInfo(
            infos[0].base_offset,
            infos[-1].last_offset,
            now_ms if log_append_time else -1,
            self._log_start_offset,
            rolled,
        )

    def append_as_follower(self, batches: bytes | bytearray) -> AppendInfo:
        self._check_online()
        infos: list[BatchInfo] = []
        epochs: list[tuple[int, int]] = []
        expected = self.log_end_offset
        for pos, header in iter_batches(batches):
            if header.base_offset < expected:
                raise InvalidRecord(
                    f"out of order offset {header.base_offset} (expected >= {expected}) for {self.tp}"
                )
            infos.append(
                BatchInfo(pos, header.size, header.base_offset, header.last_offset, header.max_timestamp)
            )
            epochs.append((header.partition_leader_epoch, header.base_offset))
            expected = header.last_offset + 1
        if not infos:
            raise InvalidRecord("no complete record batch to append")
        for epoch, start in epochs:
            self._assign_epoch(epoch, start)
        rolled = self._append_or_forget_epochs(batches, infos, self.clock.now_ms())
        return AppendInfo(infos[0].base_offset, infos[-1].last_offset, -1, self._log_start_offset, rolled)

    def _append_or_forget_epochs(
        self, data: bytes | bytearray | memoryview, infos: list[BatchInfo], now_ms: int
    ) -> bool:
        try:
            return self._append(data, infos, now_ms)
        except BaseException:
            if not self._offline:
                self._epochs.truncate_from_end(self.log_end_offset)  # nothing was appended
            raise

    def _assign_epoch(self, epoch: int, start_offset: int) -> None:
        """The records are in the log already: a checkpoint write that runs out of descriptors must not
        fail the append; the cache holds the epoch and the next flush writes the file."""
        try:
            self._epochs.assign(epoch, start_offset)
        except OSError as exc:
            if not is_out_of_descriptors(exc):
                raise self._fail(exc) from exc
            logger.warning("leader epoch checkpoint postponed tp=%s error=%s", self.tp, exc)
            self._epoch_checkpoint_pending = True

    def _append(self, data: bytes | bytearray | memoryview, infos: list[BatchInfo], now_ms: int) -> bool:
        """Returns whether a segment was rolled without its fsync (see flush_on_roll)."""
        end = infos[-1].position + infos[-1].size
        before = self.active_segment
        try:
            segment = self._maybe_roll(end, infos, now_ms)
            segment.append(memoryview(data)[:end], infos)
        except OSError as exc:
            raise self._fail(exc) from exc
        self._unflushed_messages += infos[-1].last_offset - infos[0].base_offset + 1
        if self._unflushed_messages >= self.config.flush_messages:
            self.flush()
            return False
        return segment is not before and before.size > 0 and not self._flush_on_roll

    def should_roll(
        self, size: int, first_offset: int, last_offset: int, max_timestamp: int, now_ms: int
    ) -> bool:
        segment = self.active_segment
        if not segment.can_hold(first_offset, last_offset):
            return True
        if segment.size == 0:
            return False
        # segment.ms as Kafka measures it: from the first batch's timestamp to the incoming batch's, so
        # a log of old timestamps does not roll on every append; from creation when there is none.
        if segment.first_batch_timestamp >= 0:
            waited = max_timestamp - segment.first_batch_timestamp
        else:
            waited = now_ms - segment.created_ms
        return (
            segment.size > self.config.segment_bytes - size
            or waited > self.config.segment_ms
            or segment.indexes_full
        )

    def _maybe_roll(self, size: int, infos: list[BatchInfo], now_ms: int) -> LogSegment:
        max_timestamp = max(b.max_timestamp for b in infos)
        if self.should_roll(size, infos[0].base_offset, infos[-1].last_offset, max_timestamp, now_ms):
            self.roll(infos[0].base_offset, flush=self._flush_on_roll)
        return self.active_segment

    def roll(self, base_offset: int | None = None, *, flush: bool = True) -> LogSegment:
        """Start a new active segment at `base_offset` (default: the log end offset). The old one is
        fsynced here, so the recovery point can move to the new segment's base; with flush=False
        that waits for the next flush(). The new segment's file is opened before anything changes, so
        a failure (e.g. out of descriptors) leaves the log as it was."""
        self._check_online()
        old = self.active_segment
        base_offset = max(self.log_end_offset, base_offset if base_offset is not None else 0)
        if old.size == 0 and old.base_offset == base_offset:
            return old  # already an empty active segment at that offset
        try:
            segment = self._new_segment(base_offset)
        except OSError as exc:
            raise self._fail(exc) from exc
        try:
            if old.size == 0:
                # An empty active segment is replaced rather than kept (its base offset is wrong).
                self._segments.pop()
                self._bases.pop()
                old.close_and_remove()
            else:
                old.on_become_inactive()
                if flush:
                    old.flush()
        except OSError as exc:
            raise self._fail(exc) from exc
        finally:
            self._segments.append(segment)
            self._bases.append(base_offset)
        if old.size and flush:
            self._recovery_point = max(self._recovery_point, old.next_offset)
        logger.info("rolled segment tp=%s base_offset=%d", self.tp, base_offset)
        return segment

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

    # -- reads -----------------------------------------------------------------------------------

    def _result(self, chunks: list[FileSlice | bytes], size: int) -> ReadResult:
        return ReadResult(chunks, size, self._high_watermark, self._log_start_offset, self.log_end_offset)

    def _segment_index(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self._bases, offset) - 1)

    def read(self, offset: int, *, max_bytes: int, upper_bound: int | None = None) -> ReadResult:
        self._check_online()
        log_end_offset = self.log_end_offset
        if offset < self._log_start_offset or offset > log_end_offset:
            raise OffsetOutOfRange(
                f"offset {offset} outside [{self._log_start_offset}, {log_end_offset}] for {self.tp}"
            )
        if offset == log_end_offset or (upper_bound is not None and offset >= upper_bound):
            return self._result([], 0)
        try:
            for segment in self._segments[self._segment_index(offset) :]:
                if segment.next_offset <= offset:
                    continue  # empty, or offset is in a gap after its last batch (compaction)
                found = segment.read(offset, max_bytes, upper_bound)
                if found is None or found.size == 0:
                    break
                return self._result([found], found.size)
        except OSError as exc:
            raise self._fail(exc) from exc
        return self._result([], 0)

    def update_high_watermark(self, offset: int) -> None:
        """The broker says what is committed; HW never passes LEO and (outside truncation) never goes back."""
        self._high_watermark = max(self._high_watermark, min(offset, self.log_end_offset))

    def offset_for_timestamp(self, timestamp: int) -> TimestampOffset | None:
        self._check_online()
        if timestamp == LATEST_TIMESTAMP:
            return TimestampOffset(-1, self.log_end_offset, self._epochs.latest_epoch)
        if timestamp == EARLIEST_TIMESTAMP:
            start = self._log_start_offset
            return TimestampOffset(-1, start, self._epochs.epoch_for_offset(start))
        try:
            if timestamp == MAX_TIMESTAMP:
                return max_timestamp_offset(self._segments, self._log_start_offset)
            return first_offset_at_or_after(self._segments, timestamp, self._log_start_offset)
        except OSError as exc:
            raise self._fail(exc) from exc

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        self._check_online()
        return self._epochs.end_offset_for(epoch, self.log_end_offset)

    # -- truncation and deletion -----------------------------------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Remove every batch holding offsets >= `offset` (a batch straddling it goes whole)."""
        self._check_online()
        if offset >= self.log_end_offset:
            # Nothing to cut, but an epoch a short leadership recorded at the end (it appended nothing)
            # must go, or this follower keeps claiming that epoch (Kafka's UnifiedLog.truncateTo).
            self._epochs.truncate_from_end(self.log_end_offset)
            return
        try:
            if offset < self._log_start_offset:
                self._truncate_fully_and_start_at(offset)
                return
            while len(self._segments) > 1 and self._segments[-1].base_offset >= offset:
                self._schedule_delete(self._segments.pop())
                self._bases.pop()
            active = self.active_segment
            active.truncate_to(offset)
            active.make_active()
        except OSError as exc:
            raise self._fail(exc) from exc
        self._after_truncation()

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Replication: drop every batch and restart the (empty) log at `offset`, which may lie past
        the log end (a follower below the leader's log start offset). Epochs are forgotten."""
        self._check_online()
        try:
            self._truncate_fully_and_start_at(offset)
        except OSError as exc:
            raise self._fail(exc) from exc
        self._epochs.clear()
        self._high_watermark = offset

    def _truncate_fully_and_start_at(self, offset: int) -> None:
        for segment in self._segments:
            self._schedule_delete(segment)
        self._segments = [self._new_segment(offset)]
        self._bases = [offset]
        self._log_start_offset = offset
        self._after_truncation()

    def assign_epoch_start_offset(self, epoch: int, offset: int) -> None:
        """A new leader records where its epoch starts (its log end offset), before any append."""
        self._check_online()
        self._assign_epoch(epoch, offset)

    def restore_high_watermark(self, offset: int) -> None:
        """Startup: the HW from the replication-offset-checkpoint, kept within [log start, log end]."""
        self._high_watermark = min(max(offset, self._log_start_offset), self.log_end_offset)

    def _after_truncation(self) -> None:
        end = self.log_end_offset
        self._txn_indexes.truncate_to(end)
        self._epochs.truncate_from_end(end)
        self._high_watermark = min(self._high_watermark, end)
        self._recovery_point = min(self._recovery_point, end)
        self._log_start_offset = min(self._log_start_offset, end)

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: offset -1 means the high watermark. Only moves the log start forward."""
        self._check_online()
        if offset == -1:
            offset = self._high_watermark
        if offset < 0 or offset > self._high_watermark:
            raise OffsetOutOfRange(
                f"cannot delete records before {offset}: high watermark {self._high_watermark}"
            )
        self.maybe_increment_log_start_offset(offset)
        return self._log_start_offset

    def maybe_increment_log_start_offset(self, offset: int) -> None:
        if offset <= self._log_start_offset:
            return
        self._log_start_offset = offset
        self._epochs.truncate_from_start(offset)
        self.delete_segments_before_log_start()

    def delete_segments_before_log_start(self) -> int:
        """Whole segments below the log start are no longer readable; drop them (never the active one)."""
        deleted = 0
        while len(self._segments) > 1 and self._segments[1].base_offset <= self._log_start_offset:
            self._delete_oldest_segment()
            deleted += 1
        return deleted

    def _delete_oldest_segment(self, now_ms: int | None = None) -> None:
        segment = self._segments.pop(0)
        self._bases.pop(0)
        self._log_start_offset = max(self._log_start_offset, self._segments[0].base_offset)
        self._epochs.truncate_from_start(self._log_start_offset)
        self._schedule_delete(segment, now_ms)

    def _schedule_delete(
        self, segment: LogSegment, now_ms: int | None = None, *, keep_txn_index: bool = False
    ) -> None:
        """Hide the segment now; close and unlink it after file_delete_delay_ms so open reads finish.
        Its aborted-transaction index goes at once (fetches read it from memory)."""
        now_ms = self.clock.now_ms() if now_ms is None else now_ms
        try:
            if not keep_txn_index:
                self._txn_indexes.remove(segment.base_offset)
            segment.rename_to_deleted()
        except OSError as exc:
            raise self._fail(exc) from exc
        if self.config.file_delete_delay_ms <= 0:
            segment.close_and_remove()
        else:
            self._pending_deletes.append((now_ms + self.config.file_delete_delay_ms, segment))

    def delete_expired_files(self, now_ms: int) -> int:
        due = [s for t, s in self._pending_deletes if t <= now_ms]
        self._pending_deletes = [(t, s) for t, s in self._pending_deletes if t > now_ms]
        for segment in due:
            segment.close_and_remove()
        return len(due)

    def replace_segment(self, old: LogSegment, swap_path: Path) -> None:
        """Compaction's last step: `swap_path` holds the cleaned copy of inactive segment `old`."""
        i = self._segments.index(old)
        log_file = old.path
        try:
            self._schedule_delete(old, keep_txn_index=True)  # the cleaned copy keeps the markers
            os.rename(swap_path, log_file)
            segment = LogSegment(
                self.directory,
                old.base_offset,
                index_bytes=self.config.segment_index_bytes,
                index_interval_bytes=self.config.index_interval_bytes,
                now_ms=old.created_ms,
                files=self._files,
            )
            segment.recover()
            segment.on_become_inactive()
        except OSError as exc:
            raise self._fail(exc) from exc
        self._segments[i] = segment

    # -- aborted transactions (txn_index.py) -------------------------------------------------------

    def append_aborted_txn(self, txn: AbortedTxn) -> None:
        """An ABORT marker at txn.last_offset was appended: index it in its segment."""
        try:
            self._txn_indexes.append(txn, self._bases)
        except OSError as exc:
            raise self._fail(exc) from exc

    def collect_aborted_txns(self, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """A read returns batches of one segment: the range ends at the next segment's base at most."""
        i = self._segment_index(fetch_offset)
        if i + 1 < len(self._bases):
            upper_bound = min(upper_bound, self._bases[i + 1])
        return self._txn_indexes.collect(fetch_offset, upper_bound, self._bases)

    def aborted_txns(self) -> list[AbortedTxn]:
        """Every indexed aborted transaction (the cleaner drops their records)."""
        return self._txn_indexes.all_entries()

    def discard_aborted_txns(self, keys: set[tuple[int, int]]) -> None:
        """Compaction removed these ABORT markers (producer id, marker offset): forget their entries."""
        try:
            self._txn_indexes.discard(keys)
        except OSError as exc:
            raise self._fail(exc) from exc

    def cleaner_upper_bound(self) -> int | None:
        """Compaction stops before this offset: the partition's last stable offset, once its owner
        said how to get it (`stable_offset_source`); None: no bound beyond the active segment."""
        source = self.stable_offset_source
        return source() if source is not None else None

    def replace_aborted_txns(self, from_offset: int, txns: list[AbortedTxn]) -> None:
        """A replay of the log from `from_offset` found `txns`: they replace the indexed ones from there."""
        try:
            self._txn_indexes.replace_from(from_offset, txns, self._bases)
        except OSError as exc:
            raise self._fail(exc) from exc

    # -- retention -------------------------------------------------------------------------------

    def delete_old_segments(self, now_ms: int) -> int:
        """Retention: whole inactive segments past retention_ms or beyond retention_bytes; returns count."""
        if self._offline or self._closed:
            return 0
        self.delete_expired_files(now_ms)
        deleted = self.delete_segments_before_log_start()
        if self.config.delete:
            hw_bound = below_high_watermark(self._segments, self._high_watermark)
            for _ in range(
                min(past_retention_ms(self._segments, now_ms, self.config.retention_ms), hw_bound)
            ):
                self._delete_oldest_segment(now_ms)
                deleted += 1
            hw_bound = below_high_watermark(self._segments, self._high_watermark)
            for _ in range(min(past_retention_bytes(self._segments, self.config.retention_bytes), hw_bound)):
                self._delete_oldest_segment()
                deleted += 1
        return deleted

    # -- durability ------------------------------------------------------------------------------

    def flush(self) -> None:
        """fsync everything written so far and move the recovery point; safe from a worker thread."""
        if self._closed:
            return  # close() flushed what the log keeps
        self._check_online()
        end = self.log_end_offset
        segments = list(self._segments)
        started_ns = time.monotonic_ns()
        synced = False
        try:
            self._sync_epochs()  # before the recovery point moves past anything the file describes
            self._txn_indexes.flush()
            for segment in segments:
                if segment.needs_sync:
                    segment.flush()
                    synced = True
        except (OSError, ValueError) as exc:  # EBADF and the like: a file closed under us by close()
            if self._closed:
                # The log was closed (topic deleted, broker stopping) while this worker thread flushed;
                # close() flushes what is kept, so this is no disk fault.
                logger.debug("flush raced with close tp=%s: %r", self.tp, exc)
                return
            if isinstance(exc, ValueError):
                raise
            raise self._fail(exc) from exc
        if synced and self.flush_stats is not None:  # Kafka's LogFlushRateAndTimeMs: flushes that wrote
            self.flush_stats.observe((time.monotonic_ns() - started_ns) / 1e6)
        self._recovery_point = max(self._recovery_point, end)
        self._unflushed_messages = 0
        self._last_flush_ms = self.clock.now_ms()

    def _sync_epochs(self) -> None:
        if self._epoch_checkpoint_pending:
            self._epoch_checkpoint_pending = False
            self._epochs.write_now()
        self._epochs.sync()

    def maybe_flush(self, now_ms: int) -> bool:
        """flush_ms: the log manager's periodic check (on a worker thread) calls this; it also makes the
        leader-epoch-checkpoint durable once the hot path has rewritten it."""
        if self._unflushed_messages and now_ms - self._last_flush_ms >= self.config.flush_ms:
            self.flush()
            return True
        if self._closed or self._offline or not (self._epochs.needs_sync or self._epoch_checkpoint_pending):
            return False
        try:
            self._sync_epochs()
        except OSError as exc:
            if self._closed:
                return False
            if is_out_of_descriptors(exc):
                self._epoch_checkpoint_pending = True
                return False
            raise self._fail(exc) from exc
        return False

    def update_config(self, config: LogConfig) -> None:
        self.config = config

    def close(self) -> None:
        """Record the largest timestamp, write the indexes, fsync, and release every file."""
        self._close(fsync=True)

    def close_without_fsync(self) -> bool:
        """close() for a broker closing thousands of logs: everything is written, but the fsync is left
        to the caller's one sync of the whole file system, then `confirm_synced`. Returns whether that
        is needed."""
        return self._close(fsync=False)

    def _close(self, *, fsync: bool) -> bool:
        if self._closed:
            return False
        unsynced = False
        try:
            if not self._offline:
                self.active_segment.on_become_inactive()
                if (
                    self._epoch_checkpoint_pending
                    or self._epochs.needs_sync
                    or any(s.needs_sync for s in self._segments)
                ):
                    if fsync:
                        self.flush()
                    else:
                        self._write_without_fsync()
                        unsynced = True
        finally:
            self._closed = True
            for segment in self._segments:
                segment.close()
            for _, segment in self._pending_deletes:
                segment.close_and_remove()
            self._pending_deletes = []
        return unsynced

    def _write_without_fsync(self) -> None:
        try:
            if self._epoch_checkpoint_pending or self._epochs.needs_sync:
                self._epoch_checkpoint_pending = False
                self._epochs.write_now()  # the caller's sync of the file system makes it durable
            for segment in self._segments:
                segment.write_indexes()
        except OSError as exc:
            raise self._fail(exc) from exc
        self._synced_end = self.log_end_offset

    def confirm_synced(self) -> None:
        """After close(fsync=False) and a sync of the file system: everything written is durable."""
        self._recovery_point = max(self._recovery_point, self._synced_end)

    def __repr__(self) -> str:
        return f"FileLog({self.tp}, log_start_offset={self.log_start_offset}, log_end_offset={self.log_end_offset})"
