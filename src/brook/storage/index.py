"""Sparse segment indexes: `.index` (offset -> file position) and `.timeindex`.

Byte layouts (big-endian, fixed-size entries, no header, as in Kafka):

    .index      8 bytes per entry:  relative_offset int32 | position int32
    .timeindex 12 bytes per entry:  timestamp int64       | relative_offset int32

`relative_offset` is `offset - segment.base_offset`. An offset index entry points at the first byte of a
batch whose base offset is base_offset + relative_offset; one is added every `index_interval_bytes` of log.
A time index entry says "up to here the largest timestamp is `timestamp`, first reached by the batch at
relative_offset"; entries are only added when that timestamp grows, so both columns increase. The file
size of an index is always `entries * entry_size` (no preallocation).

Descriptor economy (Kafka's LazyIndex, without mmap: CPython's mmap dup()s the file descriptor, so a
mapping would cost one descriptor per index): an index holds no descriptor at all. Its entries live in a
bytearray; the file is read whole (open, read, close) on first use and written on `flush` (open, write
the new tail, fsync, close). A loaded index of an inactive segment that has nothing unwritten can be
dropped again (`unload`, driven by the LRU in files.py) and is re-read on its next use.
Indexes are a cache of the log: when one looks wrong it is rebuilt from the segment (see loader.py).
Owned by its LogSegment; `flush` may run on a worker thread (a lock orders it with truncation).
"""

from __future__ import annotations

import operator
import os
import struct
import threading
from pathlib import Path

from brook.common.files import write_fully

__all__ = ["IndexCorrupt", "OffsetIndex", "TimeIndex"]

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


def _strictly_increasing(values: tuple[int, ...]) -> bool:
    return all(map(operator.lt, values, values[1:]))


class IndexCorrupt(Exception):
    """An index failed its sanity check; the loader rebuilds it from the log."""


class _Index:
    _entry: struct.Struct

    def __init__(self, path: Path | str, base_offset: int, max_index_bytes: int) -> None:
        self._path = str(path)  # a string: thousands of indexes are made at start-up, Path is costly
        self.base_offset = base_offset
        self._max_entries = max(1, max_index_bytes // self._entry.size)
        self._buf: bytearray | None = None  # None: not read from the file yet (or unloaded)
        self._entries = 0
        self._written = 0  # entries known to be in the file, unchanged since the last write
        self._file_bytes = -1  # the file's size as last seen or written; -1: unknown (cut on write)
        self._synced = True  # the last write was fsynced
        self.torn_at_open = False
        self._generation = 0  # bumped by every truncation, so a concurrent flush knows its write is stale
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._buf is not None

    def _load(self) -> bytearray:
        buf = self._buf
        if buf is not None:
            return buf
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            data = b""
        else:
            try:
                size = os.fstat(fd).st_size
                data = os.pread(fd, size, 0) if size else b""
            finally:
                os.close(fd)
        self.torn_at_open = len(data) % self._entry.size != 0
        self._entries = len(data) // self._entry.size
        self._written = self._entries
        self._file_bytes = len(data)
        buf = bytearray(data[: self._entries * self._entry.size])
        self._buf = buf
        return buf

    @property
    def dirty(self) -> bool:
        """Something in memory is not in the file yet, or was written without fsync."""
        return self._buf is not None and (
            self._written != self._entries
            or self._file_bytes != self._entries * self._entry.size
            or not self._synced
        )

    def unload(self) -> bool:
        """Drop the entries from memory (they are in the file); False when that would lose something
        or a flush is busy with them (never waits: called on the event loop)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._buf is None:
                return True
            if self.dirty:
                return False
            self._buf = None
            return True
        finally:
            self._lock.release()

    def release(self) -> bool:
        """LruBudget's eviction hook (open_files.py)."""
        return self.unload()

    @property
    def memory_bytes(self) -> int:
        buf = self._buf
        return len(buf) if buf is not None else 0

    def make_active(self, max_index_bytes: int) -> None:
        self._max_entries = max(1, max_index_bytes // self._entry.size)
        self._load()

    # -- entries ---------------------------------------------------------------------------------

    @property
    def entries(self) -> int:
        self._load()
        return self._entries

    @property
    def is_full(self) -> bool:
        if self._buf is None:  # (the active segment's indexes are loaded: checked on every append)
            self._load()
        return self._entries >= self._max_entries

    def _entry_at(self, i: int) -> tuple[int, int]:
        a, b = self._entry.unpack_from(self._load(), i * self._entry.size)
        return a, b

    def _append_raw(self, a: int, b: int) -> None:
        self._load().extend(self._entry.pack(a, b))
        self._entries += 1

    def _floor(self, key_of: int, target: int) -> int:
        """Index of the last entry whose column `key_of` is <= target, or -1."""
        buf = self._load()
        unpack, size = self._entry.unpack_from, self._entry.size
        lo, hi = 0, self._entries
        while lo < hi:
            mid = (lo + hi) // 2
            if unpack(buf, mid * size)[key_of] <= target:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def truncate_entries(self, keep: int) -> None:
        with self._lock:
            buf = self._load()
            self._generation += 1
            self._entries = max(0, min(keep, self._entries))
            del buf[self._entries * self._entry.size :]
            self._written = min(self._written, self._entries)

    def reset(self) -> None:
        """Empty, whatever the file held (a new segment may find a stale file from a truncation)."""
        with self._lock:
            self._generation += 1
            self._buf = bytearray()
            self._entries = 0
            self._written = 0
            self._file_bytes = -1
            self._synced = False
            self.torn_at_open = False

    def assume_empty(self) -> None:
        """Empty, without reading the file: for an empty segment, whose index has nothing to say. A stale
        file is cut at the next write; until then nothing is written (no descriptor, no fsync)."""
        with self._lock:
            self._generation += 1
            self._buf = bytearray()
            self._entries = 0
            self._written = 0
            self._file_bytes = 0
            self._synced = True
            self.torn_at_open = False

    # -- the file --------------------------------------------------------------------------------

    def flush(self, *, sync: bool = True) -> None:
        """Write what the file lacks (one open, pwrite, optional fsync, close); nothing when clean.

        The lock only guards the snapshot and the bookkeeping, never the I/O: the event loop (appends,
        truncation, LRU eviction) never waits for a disk. A truncation during the write makes the file's
        size unknown, so the next flush cuts it again."""
        with self._lock:
            buf = self._buf
            if buf is None:
                return
            size = self._entry.size
            entries = self._entries
            end = entries * size
            if self._written == entries and self._file_bytes == end and (self._synced or not sync):
                return
            start = self._written * size
            tail = bytes(buf[start:end])
            cut = self._file_bytes != end
            generation = self._generation
            path = self._path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if cut:
                os.ftruncate(fd, start)  # drop stale entries past what is kept, before writing on
            os.lseek(fd, start, os.SEEK_SET)
            write_fully(fd, tail)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        with self._lock:
            if self._generation != generation:
                self._file_bytes = -1  # truncated meanwhile: the file may hold entries that are gone
                self._synced = False
                return
            self._written = entries
            self._file_bytes = end
            self._synced = sync

    @property
    def path(self) -> Path:
        return Path(self._path)

    def rename(self, path: Path) -> None:
        try:
            os.rename(self._path, path)
        except FileNotFoundError:
            pass  # never written (an empty index): nothing to rename
        self._path = str(path)


class OffsetIndex(_Index):
    _entry = _OFFSET_ENTRY

    def append(self, offset: int, position: int) -> None:
        self._append_raw(offset - self.base_offset, position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the last entry at or before `offset`; (base_offset, 0) if none."""
        i = self._floor(0, offset - self.base_offset)
        if i < 0:
            return self.base_offset, 0
        rel, pos = self._entry_at(i)
        return self.base_offset + rel, pos

    def lookup_position(self, position: int) -> tuple[int, int]:
        """(offset, position) of the last entry whose position is <= `position`; (base_offset, 0) if none."""
        i = self._floor(1, position)
        if i < 0:
            return self.base_offset, 0
        rel, pos = self._entry_at(i)
        return self.base_offset + rel, pos

    def last_entry(self) -> tuple[int, int]:
        if self.entries == 0:
            return self.base_offset, 0
        rel, pos = self._entry_at(self._entries - 1)
        return self.base_offset + rel, pos

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= `offset`."""
        self.truncate_entries(self._floor(0, offset - self.base_offset - 1) + 1)

    def sanity_check(self, log_size: int) -> None:
        """Entries strictly increasing in both columns and pointing inside the log."""
        buf = self._load()
        if self.torn_at_open:
            raise IndexCorrupt(f"{self._path}: size is not a multiple of {self._entry.size}")
        if not self._entries:
            return
        # Column-wise, compared in C: a start-up checks every active segment's index (issue 12).
        flat = struct.unpack_from(f">{2 * self._entries}i", buf)
        rels, positions = flat[0::2], flat[1::2]
        if rels[0] < 1 or positions[0] < 1 or positions[-1] >= log_size:
            raise IndexCorrupt(f"{self._path}: entries outside the segment ({rels[0]}, {positions[-1]})")
        if not (_strictly_increasing(rels) and _strictly_increasing(positions)):
            raise IndexCorrupt(f"{self._path}: entries not strictly increasing")


class TimeIndex(_Index):
    _entry = _TIME_ENTRY

    def maybe_append(self, timestamp: int, offset: int) -> None:
        """Add an entry only when the segment's largest timestamp grew (keeps both columns increasing)."""
        if self.entries and self._entry_at(self._entries - 1)[0] >= timestamp:
            return
        self._append_raw(timestamp, offset - self.base_offset)

    def lookup(self, timestamp: int) -> tuple[int, int]:
        """(timestamp, offset) of the last entry with timestamp <= `timestamp`; (-1, base_offset) if none."""
        i = self._floor(0, timestamp)
        if i < 0:
            return -1, self.base_offset
        ts, rel = self._entry_at(i)
        return ts, self.base_offset + rel

    def last_entry(self) -> tuple[int, int] | None:
        if self.entries == 0:
            return None
        ts, rel = self._entry_at(self._entries - 1)
        return ts, self.base_offset + rel

    def truncate_to(self, offset: int) -> None:
        """Drop entries whose batch starts at or after `offset`."""
        keep = self.entries
        while keep > 0 and self._entry_at(keep - 1)[1] >= offset - self.base_offset:
            keep -= 1
        self.truncate_entries(keep)

    def sanity_check(self, next_offset: int) -> None:
        """Both columns increasing (timestamps strictly) and offsets inside the segment."""
        buf = self._load()
        if self.torn_at_open:
            raise IndexCorrupt(f"{self._path}: size is not a multiple of {self._entry.size}")
        if not self._entries:
            return
        flat = struct.unpack_from(">" + "qi" * self._entries, buf)
        timestamps, rels = flat[0::2], flat[1::2]
        if rels[0] < 0 or self.base_offset + rels[-1] >= next_offset:
            raise IndexCorrupt(f"{self._path}: entries outside the segment ({rels[0]}, {rels[-1]})")
        if not (_strictly_increasing(timestamps) and all(map(operator.le, rels, rels[1:]))):
            raise IndexCorrupt(f"{self._path}: entries not increasing")
