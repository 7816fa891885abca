"""LogReads: what a FileLog gives back: fetch ranges, batch headers, offsets by timestamp or epoch.

A read returns a slice of one segment's file (FileSlice), never more than one segment, starting at
the batch that holds the fetch offset; the high watermark it reports bounds what a consumer may see.
Timestamp lookups are timestamps.py's; the leader-epoch lookups are the epoch cache's (epoch.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from brook.common.errors import OffsetOutOfRange
from brook.records.batch import BatchHeader
from brook.storage.api import FileSlice, ReadResult, TimestampOffset
from brook.storage.log_state import LogState
from brook.storage.timestamps import first_offset_at_or_after, max_timestamp_offset
from brook.storage.txn_index import AbortedTxn

__all__ = ["EARLIEST_TIMESTAMP", "LATEST_TIMESTAMP", "MAX_TIMESTAMP", "LogReads"]

_MAX_CONTROL_BATCH_BYTES = 4096  # a marker is 78 bytes; anything far larger is not read whole in a replay
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3


class LogReads(LogState):
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

    def _result(self, chunks: list[FileSlice | bytes], size: int) -> ReadResult:
        return ReadResult(chunks, size, self._high_watermark, self._log_start_offset, self.log_end_offset)

    def collect_aborted_txns(self, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """A read returns batches of one segment: the range ends at the next segment's base at most."""
        i = self._segment_index(fetch_offset)
        if i + 1 < len(self._bases):
            upper_bound = min(upper_bound, self._bases[i + 1])
        return self._txn_indexes.collect(fetch_offset, upper_bound, self._bases)

    def update_high_watermark(self, offset: int) -> None:
        """The broker says what is committed; HW never passes LEO and (outside truncation) never goes back."""
        self._high_watermark = max(self._high_watermark, min(offset, self.log_end_offset))

    def restore_high_watermark(self, offset: int) -> None:
        """Startup: the HW from the replication-offset-checkpoint, kept within [log start, log end]."""
        self._high_watermark = min(max(offset, self._log_start_offset), self.log_end_offset)

    # -- offsets by timestamp and epoch ----------------------------------------------------------

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

    # -- batch headers (their iteration is log_state.py's) -----------------------------------------

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
