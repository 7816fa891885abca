"""LogDurability: when what a FileLog wrote becomes durable (fsync, the recovery point) and closing it.

`flush` is the one method of a FileLog that may run on a worker thread (asyncio.to_thread): it only
fsyncs files that stay open meanwhile (a segment with unsynced writes is never closed by the
descriptor LRU, and deleted segments keep their files for file_delete_delay_ms). The leader-epoch
checkpoint is made durable before the recovery point moves past anything it describes.
"""

from __future__ import annotations

import logging
import time

from brook.common.files import is_out_of_descriptors
from brook.storage.log_state import LogState

__all__ = ["LogDurability"]

logger = logging.getLogger(__name__)


class LogDurability(LogState):
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
