"""LogDeletion: how records leave a FileLog: truncation, the log start offset, retention and compaction's swap.

Truncation (replication) cuts the tail; DeleteRecords and retention move the log start offset forward
and drop whole segments below it (never the active one, never at or above the high watermark).
A dropped segment is renamed `*.deleted` at once and unlinked after file_delete_delay_ms, so reads
that hold its file finish; its aborted-transaction index goes at once (fetches read it from memory).
Which segments retention may drop is decided in retention.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from brook.common.errors import OffsetOutOfRange
from brook.storage.log_state import LogState
from brook.storage.retention import below_high_watermark, past_retention_bytes, past_retention_ms
from brook.storage.segment import LogSegment

__all__ = ["LogDeletion"]


class LogDeletion(LogState):
    # -- truncation ------------------------------------------------------------------------------

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

    def _after_truncation(self) -> None:
        end = self.log_end_offset
        self._txn_indexes.truncate_to(end)
        self._epochs.truncate_from_end(end)
        self._high_watermark = min(self._high_watermark, end)
        self._recovery_point = min(self._recovery_point, end)
        self._log_start_offset = min(self._log_start_offset, end)

    # -- the log start offset --------------------------------------------------------------------

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

    # -- deleting segment files ------------------------------------------------------------------

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
