"""LogAppends: a FileLog's append path: offsets and leader epochs for new batches, and segment rolling.

A leader's append assigns offsets from the log end offset and stamps the batch headers in place
(base offset, partition leader epoch, LogAppendTime: the byte layout is records/batch.py's); a
follower's append keeps the leader's offsets and only checks that they move forward. Either way the
leader-epoch cache learns each batch's epoch before the bytes reach the active segment, which rolls
first when it is full (segment_bytes), old (segment_ms) or its indexes are full.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from brook.common.errors import InvalidRecord
from brook.common.files import is_out_of_descriptors
from brook.records.batch import (
    BatchHeader,
    iter_batches,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
)
from brook.storage.api import AppendInfo
from brook.storage.log_durability import LogDurability
from brook.storage.segment import BatchInfo, LogSegment

__all__ = ["LogAppends"]

logger = logging.getLogger(__name__)


class LogAppends(LogDurability):
    """Appends flush by count (flush_messages), so this part of the log builds on LogDurability."""

    def append_as_leader(
        self,
        batches: bytearray | memoryview,
        *,
        leader_epoch: int,
        parsed: Sequence[tuple[int, BatchHeader]] | None = None,
        now_ms: int | None = None,
    ) -> AppendInfo:
        """`now_ms`: the time the caller read for this append (else the log's clock is read)."""
        self._check_online()
        if now_ms is None:
            now_ms = self.clock.now_ms()
        log_append_time = self.config.message_timestamp_type == "LogAppendTime"
        offset = self.log_end_offset
        infos: list[BatchInfo] = []
        for pos, header in iter_batches(batches) if parsed is None else parsed:
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

    def assign_epoch_start_offset(self, epoch: int, offset: int) -> None:
        """A new leader records where its epoch starts (its log end offset), before any append."""
        self._check_online()
        self._assign_epoch(epoch, offset)

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

    # -- rolling ---------------------------------------------------------------------------------

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
        max_timestamp = infos[0].max_timestamp if len(infos) == 1 else max(b.max_timestamp for b in infos)
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
            try:
                self._sync_epochs()  # as flush(): the file describes every offset below the recovery point
            except OSError as exc:
                raise self._fail(exc) from exc
            self._recovery_point = max(self._recovery_point, old.next_offset)
        logger.info("rolled segment tp=%s base_offset=%d", self.tp, base_offset)
        return segment
