"""The leader epoch cache: which epoch started at which offset (KIP-101), persisted per partition.

Entries are `(epoch, start_offset)`, both strictly increasing. Followers ask `end_offset_for(epoch)` to
learn where to truncate (KIP-279). Persisted in `leader-epoch-checkpoint` (format in checkpoint.py) when a
path is given; MemoryLog uses it without a path.

Durability (Kafka's KAFKA-15046 trade): changes happen on the broker's event loop (a new leader, a
follower append, a truncation) and two fsyncs per change stalled it ~1-10 ms per partition. So a
truncation (or clear) rewrites the file at once (temp file + rename) without fsync, and a new epoch
(`assign`) is only noted: `sync()` writes it and makes the file durable. The log calls `sync()` in every
flush before it moves its recovery point, in its periodic flush pass (a worker thread, every second) and
at close. Three exceptions, all for start-up: the truncation every open makes to the log end and the
entries an unclean open rebuilds from the batch headers past the recovery point are noted like an assign
(every later open derives them again from the same file and headers, and the flush that moves the recovery
point writes them first), and a write that would leave the file as it is is skipped. Without them a start
rewrote the file of every partition whose newest epoch had no records yet (any empty partition), and its
leadership then wrote the same entry back: two file creations and renames per partition, half of a
10,000-partition start here; after a kill -9, every partition whose file named an epoch with no records yet
rewrote it in the rebuild (40 % of such a start). Why that is enough:
- kill -9 of the broker: the page cache survives, so the file holds the last truncation; an assign not
  written yet is either an epoch start at the log end with no records (dropped at load anyway, as Kafka
  truncates the cache to the log end) or the epoch of batches past the recovery point, which the unclean
  open re-assigns from their headers;
- power loss: the file may be the version of the last sync, a later one, or empty/garbled (read as no
  entries). Every change since the last sync concerns offsets at or past the recovery point (appends
  after it, or truncations, which also pull the recovery point back), and the log rebuilds its epochs from
  the batch headers from the recovery point on (from the log start when the file has no entries) and
  then drops entries past its log end (FileLog, on an unclean open).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from pathlib import Path

from brook.common.files import fsync_dir, fsync_file
from brook.storage.checkpoint import read_epoch_checkpoint, write_epoch_checkpoint

__all__ = ["LeaderEpochCache"]

UNDEFINED = -1


class LeaderEpochCache:
    """Owned by one partition log; mutated only by that log's owner."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._entries: list[tuple[int, int]] = read_epoch_checkpoint(path) if path is not None else []
        # what the file holds: a write that would not change it is skipped
        self._on_disk = list(self._entries)
        self._unwritten = False  # an assign changed the entries; the next sync() writes the file
        self._unsynced = False  # the file was rewritten since the last sync()
        self._sync_lock = threading.RLock()  # sync() may run on two worker threads at once
        self._write_lock = threading.Lock()  # one writer of `<name>.tmp` at a time (held for no fsync)

    @property
    def needs_sync(self) -> bool:
        return self._unwritten or self._unsynced

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(self._entries)

    @property
    def latest_epoch(self) -> int:
        return self._entries[-1][0] if self._entries else UNDEFINED

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that `epoch` starts at `start_offset` (Kafka's LeaderEpochFileCache.assign).

        Nothing changes if `epoch` is already the latest and starts no later. Otherwise entries that
        would break monotonicity (an epoch >= `epoch`, or one starting at or after `start_offset`) are
        dropped first: a follower appending an older epoch's batches over an entry a short-lived
        leadership left at the end of its log, or a new leader's epoch replacing an empty one.
        """
        if epoch < 0 or start_offset < 0:
            return
        if self._entries:
            latest_epoch, latest_start = self._entries[-1]
            if epoch == latest_epoch and start_offset >= latest_start:
                return
        while self._entries and (self._entries[-1][0] >= epoch or self._entries[-1][1] >= start_offset):
            self._entries.pop()
        self._entries.append((epoch, start_offset))
        if self._path is not None:
            self._unwritten = True  # written by the next sync(), off the event loop

    def clear(self) -> None:
        """Forget every entry (a log truncated fully and restarted at a new offset)."""
        if self._entries:
            self._entries = []
            self._save()

    def truncate_from_end(self, end_offset: int, *, at_load: bool = False) -> None:
        """After truncate_to(end_offset): forget epochs that start at or after it. `at_load`: the log's open,
        which drops what lies past the log end every time (the module's docstring): noted for the next sync()
        instead of written at once."""
        keep = [e for e in self._entries if e[1] < end_offset]
        if keep != self._entries:
            self._entries = keep
            if at_load:
                self._unwritten = self._path is not None
            else:
                self._save()

    def truncate_from_start(self, start_offset: int) -> None:
        """After the log start moves: the epoch holding start_offset now starts there."""
        i = bisect.bisect_right([o for _, o in self._entries], start_offset)
        if i == 0:
            return
        epoch, offset = self._entries[i - 1]
        keep = [(epoch, max(offset, start_offset)), *self._entries[i:]]
        if keep != self._entries:
            self._entries = keep
            self._save()

    def epoch_for_offset(self, offset: int) -> int:
        i = bisect.bisect_right([o for _, o in self._entries], offset)
        return self._entries[i - 1][0] if i else UNDEFINED

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(largest epoch <= `epoch`, the offset where the next epoch starts), as OffsetForLeaderEpoch."""
        if epoch == UNDEFINED or not self._entries:
            return UNDEFINED, UNDEFINED
        if epoch == self._entries[-1][0]:
            return epoch, log_end_offset
        i = bisect.bisect_right([e for e, _ in self._entries], epoch)
        if i == len(self._entries):
            return UNDEFINED, UNDEFINED  # asked for an epoch newer than ours
        next_start = self._entries[i][1]
        if i == 0:
            return epoch, next_start  # older than anything we know: the follower truncates to our start
        return self._entries[i - 1][0], next_start

    def rebuild(self, epochs: Iterable[tuple[int, int]], log_end_offset: int) -> bool:
        """After an unclean shutdown: assign the (epoch, base offset) of every batch from the recovery
        point on (in log order), then drop entries past the log end. Noted for the next sync(), as the open's
        truncation is (the module's docstring); True if anything changed."""
        before = list(self._entries)
        path, self._path = self._path, None  # no write per batch
        try:
            for epoch, start_offset in epochs:
                self.assign(epoch, start_offset)
            self.truncate_from_end(log_end_offset)
        finally:
            self._path = path
        if self._entries == before:
            return False
        self._unwritten = self._path is not None
        return True

    def _save(self) -> None:
        if self._path is not None:
            with self._write_lock:
                self._unwritten = False
                entries = list(self._entries)
                if entries == self._on_disk:
                    return
                write_epoch_checkpoint(self._path, entries, sync=False)
                self._on_disk = entries
                self._unsynced = True

    def sync(self) -> None:
        """Write the file if an assign changed the entries, then fsync it and its directory if it changed
        since the last sync. Safe from a worker thread: a change made meanwhile sets its flag again, so
        the next sync covers it."""
        if self._path is None:
            return
        with self._sync_lock:
            if self._unwritten:
                try:
                    self._save()
                except FileNotFoundError:
                    return  # the partition directory is being deleted
                except BaseException:
                    self._unwritten = True
                    raise
            if not self._unsynced:
                return
            self._unsynced = False
            try:
                fsync_file(self._path)
                fsync_dir(self._path.parent)
            except FileNotFoundError:
                return  # the partition directory is being deleted
            except BaseException:
                self._unsynced = True
                raise

    def write_now(self) -> None:
        """Write the file now, not synced (close without fsync; a write that failed earlier, e.g. EMFILE)."""
        self._save()
