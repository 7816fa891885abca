"""Sparse, memory-mapped segment indexes: `.index` (offset -> file position) and `.timeindex`.

Byte layouts (big-endian, fixed-size entries, no header, as in Kafka):

    .index      8 bytes per entry:  relative_offset int32 | position int32
    .timeindex 12 bytes per entry:  timestamp int64       | relative_offset int32

`relative_offset` is `offset - segment.base_offset`. An offset index entry points at the first byte of a
batch whose base offset is base_offset + relative_offset; one is added every `index_interval_bytes` of log.
A time index entry says "up to here the largest timestamp is `timestamp`, first reached by the batch at
relative_offset"; entries are only added when that timestamp grows, so both columns increase.

The active segment's index files are preallocated to `segment_index_bytes` and mapped once; on roll and
close they are trimmed to `entries * entry_size`, so the file size of an inactive index is its entry count.
Indexes are a cache of the log: when one looks wrong it is rebuilt from the segment (see loader.py).
Owned by its LogSegment; not safe to share between threads except for `flush`.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from pathlib import Path

__all__ = ["IndexCorrupt", "OffsetIndex", "TimeIndex"]

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


class IndexCorrupt(Exception):
    """An index failed its sanity check; the loader rebuilds it from the log."""


class _MappedIndex:
    _entry: struct.Struct

    def __init__(self, path: Path, base_offset: int, max_index_bytes: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self._max_entries = max(1, max_index_bytes // self._entry.size)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        self.torn_at_open = size % self._entry.size != 0
        self._entries = size // self._entry.size
        self._mmap: mmap.mmap | None = None
        self._mapped_bytes = 0
        self._map(max(size, self._entries * self._entry.size))

    # -- mapping ---------------------------------------------------------------------------------

    def _map(self, size: int) -> None:
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        if os.fstat(self._fd).st_size != size:
            os.ftruncate(self._fd, size)
        self._mapped_bytes = size
        if size > 0:
            self._mmap = mmap.mmap(self._fd, size)

    def make_active(self, max_index_bytes: int) -> None:
        """Preallocate and map the full capacity so appends never resize the file."""
        self._max_entries = max(1, max_index_bytes // self._entry.size)
        capacity = max(self._max_entries, self._entries) * self._entry.size
        if capacity != self._mapped_bytes:
            self._map(capacity)

    def trim(self) -> None:
        """Shrink the file to its real entries (on roll and close) so its size tells the entry count."""
        if self._mapped_bytes != self._entries * self._entry.size:
            self._map(self._entries * self._entry.size)

    # -- entries ---------------------------------------------------------------------------------

    @property
    def entries(self) -> int:
        return self._entries

    @property
    def is_full(self) -> bool:
        return self._entries >= self._max_entries

    def _entry_at(self, i: int) -> tuple[int, int]:
        assert self._mmap is not None
        a, b = self._entry.unpack_from(self._mmap, i * self._entry.size)
        return a, b

    def _iter_entries(self) -> Iterator[tuple[int, int]]:
        if self._mmap is None or self._entries == 0:
            return iter(())
        return self._entry.iter_unpack(self._mmap[: self._entries * self._entry.size])

    def _append_raw(self, a: int, b: int) -> None:
        if (self._entries + 1) * self._entry.size > self._mapped_bytes:
            # An inactive index being written (recovery rebuild): grow in steps.
            self._map(max(self._mapped_bytes * 2, 64 * self._entry.size))
        assert self._mmap is not None
        self._entry.pack_into(self._mmap, self._entries * self._entry.size, a, b)
        self._entries += 1

    def _floor(self, key_of: int, target: int) -> int:
        """Index of the last entry whose column `key_of` is <= target, or -1."""
        lo, hi = 0, self._entries
        while lo < hi:
            mid = (lo + hi) // 2
            if self._entry_at(mid)[key_of] <= target:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def truncate_entries(self, keep: int) -> None:
        self._entries = max(0, min(keep, self._entries))
        if self._mmap is not None:
            # Zero the dropped tail so a crash cannot resurrect stale entries from the preallocated area.
            start = self._entries * self._entry.size
            end = min(self._mapped_bytes, start + 64 * 1024)
            self._mmap[start:end] = bytes(end - start)

    def reset(self) -> None:
        self.truncate_entries(0)
        self.torn_at_open = False

    def flush(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def rename(self, path: Path) -> None:
        os.rename(self.path, path)
        self.path = path


class OffsetIndex(_MappedIndex):
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
        if self._entries == 0:
            return self.base_offset, 0
        rel, pos = self._entry_at(self._entries - 1)
        return self.base_offset + rel, pos

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= `offset`."""
        self.truncate_entries(self._floor(0, offset - self.base_offset - 1) + 1)

    def sanity_check(self, log_size: int) -> None:
        """Entries strictly increasing in both columns and pointing inside the log."""
        if self.torn_at_open:
            raise IndexCorrupt(f"{self.path}: size is not a multiple of {self._entry.size}")
        prev_rel, prev_pos = -1, -1
        for i, (rel, pos) in enumerate(self._iter_entries()):
            if rel <= prev_rel or pos <= prev_pos or pos >= log_size:
                raise IndexCorrupt(f"{self.path}: bad entry {i} ({rel}, {pos})")
            prev_rel, prev_pos = rel, pos


class TimeIndex(_MappedIndex):
    _entry = _TIME_ENTRY

    def maybe_append(self, timestamp: int, offset: int) -> None:
        """Add an entry only when the segment's largest timestamp grew (keeps both columns increasing)."""
        if self._entries and self._entry_at(self._entries - 1)[0] >= timestamp:
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
        if self._entries == 0:
            return None
        ts, rel = self._entry_at(self._entries - 1)
        return ts, self.base_offset + rel

    def truncate_to(self, offset: int) -> None:
        """Drop entries whose batch starts at or after `offset`."""
        keep = self._entries
        while keep > 0 and self._entry_at(keep - 1)[1] >= offset - self.base_offset:
            keep -= 1
        self.truncate_entries(keep)

    def sanity_check(self, next_offset: int) -> None:
        """Both columns increasing (timestamps strictly) and offsets inside the segment."""
        if self.torn_at_open:
            raise IndexCorrupt(f"{self.path}: size is not a multiple of {self._entry.size}")
        prev_ts, prev_rel = -(2**63), -1
        for i, (ts, rel) in enumerate(self._iter_entries()):
            if ts <= prev_ts or rel < max(prev_rel, 0) or self.base_offset + rel >= next_offset:
                raise IndexCorrupt(f"{self.path}: bad entry {i} ({ts}, {rel})")
            prev_ts, prev_rel = ts, rel
