"""One log segment: `{base_offset:020d}.log` plus its `.index` and `.timeindex` (layouts in index.py).

The `.log` file is a plain concatenation of v2 record batches exactly as on the wire (layout in
brook.records.batch), with increasing offsets. Nothing else is in the file: no header, no footer, so a
segment can be sent to a consumer with pread/sendfile and scanned with nothing but batch headers.

A segment knows its size, next offset and largest timestamp in memory; it finds a batch by asking the
sparse offset index for a nearby position and hopping over batch headers from there (at most about
`index_interval_bytes` of hops). Owned by its FileLog; `flush` may run on another thread.

Descriptors: the active segment keeps its `.log` open. An inactive one opens it on first use and closes it
when it falls out of the log manager's LRU (open_files.py); it is never closed while it has writes that
are not fsynced, so a flush thread never meets a closed or reused descriptor. A segment loaded after a
clean shutdown (or below the recovery point) is "lazy": it knows only its base offset and size until
something asks for its next offset or timestamps, then reads them from its indexes (`_ensure_state`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

from brook.records.batch import BATCH_HEADER_SIZE, LOG_OVERHEAD, BatchHeader, crc_is_valid, parse_header
from brook.storage.api import FileSlice
from brook.storage.index import IndexCorrupt, OffsetIndex, TimeIndex
from brook.storage.open_files import SegmentFiles

__all__ = ["BatchInfo", "LogSegment", "log_path", "segment_base_offset"]

logger = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
DELETED_SUFFIX = ".deleted"
_SCAN_CHUNK_BYTES = 8 * 1024 * 1024
_MAX_RELATIVE_OFFSET = 2**31 - 1


def log_path(directory: Path, base_offset: int) -> Path:
    return directory / f"{base_offset:020d}{LOG_SUFFIX}"


def segment_base_offset(path: Path) -> int:
    return int(path.name.split(".", 1)[0])


class BatchInfo(NamedTuple):
    """What a segment needs to know about a batch being appended (position relative to the write). A NamedTuple,
    as BatchHeader: one is made for every produced batch."""

    position: int
    size: int
    base_offset: int
    last_offset: int
    max_timestamp: int


class LogSegment:
    def __init__(
        self,
        directory: Path,
        base_offset: int,
        *,
        index_bytes: int,
        index_interval_bytes: int,
        now_ms: int,
        files: SegmentFiles | None = None,
        size: int | None = None,
    ) -> None:
        """`size` given: a lazy segment (no file opened, state read on first use); else open it now."""
        self.base_offset = base_offset
        self.path = log_path(directory, base_offset)
        self._files = files if files is not None else SegmentFiles()
        self._fd = -1
        self.active = False
        self.pinned = False  # set while a loader thread works on it: the LRU must not close it then
        self._write_seq = 0  # bumped by every change to the .log file
        self._synced_seq = 0  # _write_seq as of the last fsync
        if size is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            size = os.fstat(self._fd).st_size
        self.size = size
        stem = f"{directory}/{base_offset:020d}"
        self.offset_index = OffsetIndex(stem + INDEX_SUFFIX, base_offset, index_bytes)
        self.time_index = TimeIndex(stem + TIME_INDEX_SUFFIX, base_offset, index_bytes)
        self.index_bytes = index_bytes
        self.index_interval_bytes = index_interval_bytes
        self._state_known = False  # next offset and timestamps: read lazily (lazy segment) or set by load
        self._next_offset = base_offset
        self._max_timestamp = -1
        self._offset_of_max_timestamp = base_offset
        self.created_ms = now_ms
        self._first_batch_timestamp = -1
        self._bytes_since_index_entry = 0
        self._read_hint: tuple[int, int] | None = (
            None  # (base offset, position) of the batch after the last read
        )
        self.deleted = False
        if self._fd >= 0:
            self._files.descriptors.use(self)

    # -- descriptors and lazy state ----------------------------------------------------------------

    @property
    def fd(self) -> int:
        """The open `.log` file, opened again if the LRU closed it."""
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDWR)
        if not (self.active or self.pinned):
            self._files.descriptors.use(self)
        return self._fd

    def unpin(self) -> None:
        """The loader is done with it: from now on the LRU may close it (if inactive and synced)."""
        self.pinned = False
        if not self.active:
            if self._fd >= 0:
                self._files.descriptors.use(self)
            self._indexes_used()

    @property
    def has_open_file(self) -> bool:
        return self._fd >= 0

    @property
    def needs_sync(self) -> bool:
        return self._write_seq != self._synced_seq or self.offset_index.dirty or self.time_index.dirty

    def release(self) -> bool:
        """LRU eviction of an inactive segment's descriptor (and its loaded indexes)."""
        if self.active or self.pinned or self._write_seq != self._synced_seq or self._fd < 0:
            return self._fd < 0
        fd, self._fd = self._fd, -1
        os.close(fd)
        return True

    def _indexes_used(self) -> None:
        if not (self.active or self.pinned):
            for index in (self.offset_index, self.time_index):
                if index.loaded:
                    self._files.index_memory.use(index, max(1, index.memory_bytes))

    @property
    def state_known(self) -> bool:
        return self._state_known

    def assume_empty(self) -> None:
        """An empty file: empty indexes and state without reading anything."""
        self._state_known = True
        self._next_offset = self.base_offset
        self._max_timestamp, self._offset_of_max_timestamp = -1, self.base_offset
        self._first_batch_timestamp = -1
        self._bytes_since_index_entry = 0
        self.offset_index.assume_empty()
        self.time_index.assume_empty()

    def _ensure_state(self) -> None:
        if not self._state_known:
            self._state_known = True
            problem = self.check_indexes()
            if problem is not None:
                logger.warning("rebuilding indexes of a segment read lazily reason=%s", problem)
                self.recover()
            self._indexes_used()

    @property
    def next_offset(self) -> int:
        if not self._state_known:
            self._ensure_state()
        return self._next_offset

    @next_offset.setter
    def next_offset(self, value: int) -> None:
        self._next_offset = value

    @property
    def max_timestamp(self) -> int:
        if not self._state_known:
            self._ensure_state()
        return self._max_timestamp

    @property
    def offset_of_max_timestamp(self) -> int:
        if not self._state_known:
            self._ensure_state()
        return self._offset_of_max_timestamp

    @property
    def first_batch_timestamp(self) -> int:
        if not self._state_known:
            self._ensure_state()
        return self._first_batch_timestamp

    # -- writing ---------------------------------------------------------------------------------

    def can_hold(self, first_offset: int, last_offset: int) -> bool:
        """Relative offsets in the indexes are int32."""
        return first_offset >= self.base_offset and last_offset - self.base_offset <= _MAX_RELATIVE_OFFSET

    def append(self, data: bytes | bytearray | memoryview, batches: list[BatchInfo]) -> None:
        """Write `data` (whole batches) with one write call, then index it. On OSError the file is cut
        back to its old size, so nothing half-written is ever indexed or readable."""
        start = self.size
        view = memoryview(data)
        fd = self.fd
        self._write_seq += 1
        try:
            written = os.pwrite(fd, view, start)
            while written < len(view):  # short writes are legal; rare on regular files
                written += os.pwrite(fd, view[written:], start + written)
        except OSError:
            try:
                os.ftruncate(fd, start)
            except OSError:
                logger.exception("cannot cut back failed write file=%s", self.path)
            raise
        self.size = start + len(view)
        for b in batches:
            self._index_batch(start + b.position, b.size, b.base_offset, b.last_offset, b.max_timestamp)

    def _index_batch(self, position: int, size: int, base_offset: int, last_offset: int, max_ts: int) -> None:
        if self._first_batch_timestamp < 0:
            self._first_batch_timestamp = max_ts
        if max_ts > self._max_timestamp:
            self._max_timestamp = max_ts
            self._offset_of_max_timestamp = base_offset
        if self._bytes_since_index_entry > self.index_interval_bytes and not self.offset_index.is_full:
            self.offset_index.append(base_offset, position)
            if not self.time_index.is_full:
                self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp)
            self._bytes_since_index_entry = 0
        self._bytes_since_index_entry += size
        self._next_offset = last_offset + 1

    @property
    def indexes_full(self) -> bool:
        return self.offset_index.is_full or self.time_index.is_full

    def on_become_inactive(self) -> None:
        """On roll and close: record the final largest timestamp (used on reopen); from now on the LRU
        may close this segment's file once its writes are fsynced."""
        if self._state_known and self._max_timestamp >= 0:
            self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp)
        if self.active:
            self.active = False
            if self._fd >= 0:
                self._files.descriptors.use(self)

    def make_active(self) -> None:
        self._ensure_state()
        self.active = True
        self._files.descriptors.forget(self)
        for index in (self.offset_index, self.time_index):
            self._files.index_memory.forget(index)
            index.make_active(self.index_bytes)
        self.fd  # noqa: B018 - the active segment always holds its file open

    # -- reading ---------------------------------------------------------------------------------

    def header_at(self, position: int) -> BatchHeader | None:
        if position + BATCH_HEADER_SIZE > self.size:
            return None
        return parse_header(os.pread(self.fd, BATCH_HEADER_SIZE, position))

    def translate_offset(self, offset: int) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset is >= `offset`."""
        if self._read_hint is not None and self._read_hint[0] == offset:
            position = self._read_hint[1]  # a consumer reading on from where the last read ended
        else:
            _, position = self.offset_index.lookup(offset)
            self._indexes_used()
        while (header := self.header_at(position)) is not None:
            if header.last_offset >= offset:
                return position, header
            position += header.size
        return None

    def _boundary_at_or_before(self, limit: int) -> int:
        """The largest batch boundary <= limit (limit < size)."""
        _, position = self.offset_index.lookup_position(limit)
        while (header := self.header_at(position)) is not None and position + header.size <= limit:
            position += header.size
        return position

    def read(self, offset: int, max_bytes: int, upper_bound: int | None) -> FileSlice | None:
        """Whole batches from the one holding `offset`: the first always, the rest while within max_bytes
        and wholly below upper_bound. None when no batch here qualifies."""
        found = self.translate_offset(offset)
        if found is None:
            return None
        start, header = found
        limit = self.size
        if upper_bound is not None and upper_bound <= header.last_offset:
            return None
        if upper_bound is not None and upper_bound < self.next_offset:
            bound = self.translate_offset(upper_bound)
            if bound is not None:
                limit = bound[0]
        end = start + max(max_bytes, header.size)
        if end >= limit:
            end = limit
        elif max_bytes > header.size:
            end = max(start + header.size, self._boundary_at_or_before(end))
        else:
            end = start + header.size  # nothing else can fit: skip the search
        if end == start + header.size:
            self._read_hint = (header.next_offset, end)  # where this consumer's next fetch starts
        return FileSlice(self.fd, start, end - start)

    def find_by_timestamp(self, timestamp: int) -> tuple[int, BatchHeader] | None:
        """The first batch whose max_timestamp >= timestamp."""
        if self.max_timestamp < timestamp:
            return None
        _, offset = self.time_index.lookup(timestamp)
        _, position = self.offset_index.lookup(offset)
        self._indexes_used()
        while (header := self.header_at(position)) is not None:
            if header.max_timestamp >= timestamp:
                return position, header
            position += header.size
        return None

    def read_batch(self, position: int, header: BatchHeader) -> bytes:
        return os.pread(self.fd, header.size, position)

    def check_indexes(self) -> str | None:
        """Sanity-check both indexes and restore the state from them; the reason they cannot be trusted
        (the caller then rebuilds them with `recover`), or None."""
        try:
            self.offset_index.sanity_check(self.size)
            if not self.load_state_from_indexes():
                return f"{self.path}: indexes disagree with the log"
            self.time_index.sanity_check(self._next_offset)
        except IndexCorrupt as exc:
            return str(exc)
        return None

    # -- state after open or truncation ------------------------------------------------------------

    def load_state_from_indexes(self) -> bool:
        """Restore next offset and largest timestamp from the last index entries plus a hop over the
        batches after them. Returns False when an index disagrees with the log, looks stale (an entry
        is missing where the interval says one must be) or the tail does not end exactly at the file
        size (torn or corrupt): the caller then rebuilds with `recover`."""
        self._state_known = True
        first = self.header_at(0)
        self._first_batch_timestamp = first.max_timestamp if first is not None else -1
        index_offset, index_position = self.offset_index.last_entry()
        if self.offset_index.entries:
            at_index = self.header_at(index_position)
            if at_index is None or at_index.base_offset != index_offset:
                return False
        position = index_position
        self._max_timestamp, self._offset_of_max_timestamp = -1, self.base_offset
        ts_entry = self.time_index.last_entry()
        if ts_entry is None and self.size > 0:
            return False  # roll and close always leave an entry for the largest timestamp
        if ts_entry is not None:
            found = self.translate_offset(ts_entry[1])
            if found is None or found[1].base_offset != ts_entry[1] or found[1].max_timestamp != ts_entry[0]:
                return False
            self._max_timestamp, self._offset_of_max_timestamp = ts_entry
            position = min(position, found[0])  # recount timestamps after the time index's last entry
        self._next_offset = self.base_offset
        self._bytes_since_index_entry = 0
        while (header := self.header_at(position)) is not None:
            if header.magic != 2 or header.last_offset_delta < 0:
                return False
            if position == index_position:
                self._bytes_since_index_entry = 0
            elif position > index_position and self._bytes_since_index_entry > self.index_interval_bytes:
                missing = not self.offset_index.is_full
                if missing:
                    return False  # the offset index lost entries
            if header.max_timestamp > self._max_timestamp:
                self._max_timestamp = header.max_timestamp
                self._offset_of_max_timestamp = header.base_offset
            self._next_offset = header.last_offset + 1
            self._bytes_since_index_entry += header.size
            position += header.size
        return position == self.size

    def truncate_to(self, offset: int) -> int:
        """Drop the batch holding `offset` and everything after; returns the bytes removed."""
        found = self.translate_offset(offset)
        if found is None:
            return 0
        position, header = found
        removed = self.size - position
        self._read_hint = None
        self._write_seq += 1
        os.ftruncate(self.fd, position)
        self.size = position
        self.offset_index.truncate_to(header.base_offset)
        self.time_index.truncate_to(header.base_offset)
        if not self.load_state_from_indexes():
            self.recover()  # e.g. no time index entry left: rescan what remains (less than an interval or so)
        return removed

    def recover(self) -> int:
        """Rebuild both indexes by scanning every batch (length, magic, CRC32C, offsets); cut the file at
        the first invalid or torn batch. Returns the bytes cut."""
        self._read_hint = None
        self._state_known = True
        self.offset_index.reset()
        self.time_index.reset()
        self._next_offset = self.base_offset
        self._max_timestamp, self._offset_of_max_timestamp = -1, self.base_offset
        self._first_batch_timestamp = -1
        self._bytes_since_index_entry = 0
        fd = self.fd
        file_size = os.fstat(fd).st_size
        valid_end = self._scan(file_size)
        if valid_end < file_size:
            logger.warning(
                "truncating invalid tail file=%s position=%d bytes_cut=%d",
                self.path,
                valid_end,
                file_size - valid_end,
            )
            self._write_seq += 1
            os.ftruncate(fd, valid_end)
        self.size = valid_end
        return file_size - valid_end

    def _scan(self, file_size: int) -> int:
        """Index every valid batch; returns the position just after the last valid one."""
        position = 0
        while position < file_size:
            chunk = os.pread(self.fd, min(_SCAN_CHUNK_BYTES, file_size - position), position)
            view = memoryview(chunk)
            offset = 0
            while len(chunk) - offset >= BATCH_HEADER_SIZE:
                header = parse_header(view, offset)
                if not self._looks_valid(header, position + offset, file_size):
                    return position + offset
                if offset + header.size > len(chunk):
                    if offset == 0:  # a batch bigger than the chunk: read it alone
                        chunk = os.pread(self.fd, header.size, position)
                        view = memoryview(chunk)
                        continue
                    break
                if not crc_is_valid(view, offset, header):
                    return position + offset
                self._index_batch(
                    position + offset,
                    header.size,
                    header.base_offset,
                    header.last_offset,
                    header.max_timestamp,
                )
                offset += header.size
            if offset == 0:
                return position  # fewer than a header's bytes left: torn
            position += offset
        return position

    def _looks_valid(self, header: BatchHeader, position: int, file_size: int) -> bool:
        return (
            header.magic == 2
            and header.batch_length >= BATCH_HEADER_SIZE - LOG_OVERHEAD
            and position + header.size <= file_size
            and header.last_offset_delta >= 0
            and header.base_offset >= self._next_offset
            and self.can_hold(header.base_offset, header.last_offset)
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def flush(self) -> None:
        """fsync the log and write + fsync the indexes; nothing when all of it is on disk already."""
        seq = self._write_seq
        if seq != self._synced_seq:
            os.fsync(self._fd)  # open: the LRU never closes a segment with unsynced writes
            self._synced_seq = seq
        self.offset_index.flush()
        self.time_index.flush()

    def write_indexes(self) -> None:
        """Write the indexes without fsync (a whole-file-system sync follows, see FileLog.close)."""
        self.offset_index.flush(sync=False)
        self.time_index.flush(sync=False)

    def rename_to_deleted(self) -> None:
        """Retention and truncation hide a segment by renaming it; its fd stays open for readers."""
        new = self.path.with_name(self.path.name + DELETED_SUFFIX)
        os.rename(self.path, new)
        self.path = new
        for index in (self.offset_index, self.time_index):
            index.rename(index.path.with_name(index.path.name + DELETED_SUFFIX))
        self.deleted = True

    def close(self) -> None:
        self.active = False
        self._files.descriptors.forget(self)
        for index in (self.offset_index, self.time_index):
            self._files.index_memory.forget(index)
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def close_and_remove(self) -> None:
        self.close()
        for path in (self.path, self.offset_index.path, self.time_index.path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def __repr__(self) -> str:
        return f"LogSegment({self.path.name}, size={self.size}, next_offset={self.next_offset})"
