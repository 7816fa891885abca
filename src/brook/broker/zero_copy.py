"""Zero-copy Fetch: record bytes go from a segment file to the client's socket through the kernel (splice),
the way Kafka's FileRecords.writeTo hands them to FileChannel.transferTo, instead of being read into a
bytes object (pread) and written from it (two copies, and for a big response a worker thread).

On a plain TCP connection (SSL needs the bytes to encrypt them) the Fetch handler answers with a
FileRange per partition instead of the bytes. A FileRange holds its own duplicate of the segment's
descriptor: the log closes a segment's descriptor when the descriptor LRU evicts it or a deleted
segment's file.delete.delay.ms is up, and a number closed meanwhile could be reused for another file,
so a range never reads through the segment's own number after the handler returned. The duplicate is
closed once the range is sent (or dropped: `__del__`). The server's RangeBudget bounds how many are open
at once (past it a slice is read into bytes as before), so the descriptors the open-files budget counts
on (docs/operations.md) stay there.

The connection's writer sends a response holding ranges itself, on the transport's socket, once the
transport has nothing buffered (uvloop writes at once when its buffer is empty, so nothing it holds can be
overtaken): bytes with writev(2), ranges through the server's `SplicePipe`, as far as the non-blocking
socket takes them without waiting (at most its send buffer and one pipe: a bounded copy, like the write of
a response that size), then again each time the socket has room (server.py waits for that on a duplicate
of the socket's descriptor, as uvloop refuses a writer callback on a transport's own).

Why splice through a 1 MiB pipe and not sendfile(2): sendfile moves 64 KiB at a time through a small
internal pipe and may reschedule between them; on loopback each 64 KiB wakes the consumer, which then
preempts the broker mid-response. Measured with librdkafka consuming 1 KiB records from one partition
(1 MiB fetches): sendfile 3.2-3.6 involuntary context switches per fetch and 0.66-0.72 broker CPU us a
record, pread+write 1.0-1.1 and 0.44-0.56, splice through a 1 MiB pipe 0.7-1.3 and 0.38-0.58
(bench/README.md, fifth round).

A segment truncated under a range (a leader that became a follower and truncated its log) leaves fewer
bytes than the response's frame promised: the send raises `ShortRange` and the writer closes that
connection, as Kafka does when a FileRecords shrank during writeTo; the client reconnects and fetches
again.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence

from brook.storage.api import FileSlice

__all__ = [
    "INLINE_READ_BYTES",
    "Chunk",
    "FileRange",
    "RangeBudget",
    "ShortRange",
    "SplicePipe",
    "close_ranges",
    "range_bytes",
    "read_ranges",
]

# writev takes at most IOV_MAX (1024 on Linux) buffers a call
_IOV_MAX = 1024
# Record bytes read from segment files into memory (SSL, Fetch v0-3, ranges past the budget, what a socket
# left when no descriptor was free to wait on): on a worker thread past this much, else on the loop.
INLINE_READ_BYTES = 1024 * 1024
# Linux's fs.pipe-max-size default: what an unprivileged process may ask a pipe to hold
_PIPE_BYTES = 1024 * 1024


class ShortRange(Exception):
    """The file holds fewer bytes than a range promised (it was truncated after the range was taken)."""


class RangeBudget:
    """How many FileRanges (duplicated descriptors) may be open at once: a follower's Fetch of a thousand
    partitions must not spend a thousand descriptors of the broker's open-files budget
    (docs/operations.md). Past it, slices are read into bytes as before."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def take(self, source: FileSlice) -> FileRange | None:
        """A range over `source` on a duplicate of its descriptor; None past the budget or when no
        descriptor is left (EMFILE)."""
        if self.in_use >= self.limit:
            return None
        try:
            fd = os.dup(source.fd)
        except OSError:
            return None
        self.in_use += 1
        return FileRange(fd, source.position, source.size, self)


class FileRange:
    """`size` bytes at `position` of a file, on a descriptor this object owns (taken from a RangeBudget)."""

    __slots__ = ("budget", "fd", "position", "size")

    def __init__(self, fd: int, position: int, size: int, budget: RangeBudget | None = None) -> None:
        self.fd = fd
        self.position = position
        self.size = size
        self.budget = budget

    def __len__(self) -> int:  # the response's frame counts it like bytes
        return self.size

    def __repr__(self) -> str:
        return f"FileRange(fd={self.fd}, position={self.position}, size={self.size})"

    def read_bytes(self) -> bytes:
        data = os.pread(self.fd, self.size, self.position)
        if len(data) != self.size:
            raise ShortRange(f"read {len(data)} of {self.size} bytes at {self.position}: file truncated")
        return data

    def advance(self, sent: int) -> None:
        self.position += sent
        self.size -= sent

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            if self.budget is not None:
                self.budget.in_use -= 1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


Chunk = bytes | memoryview | FileRange  # what a response's chunks may be on a plain TCP connection


class SplicePipe:
    """One pipe that file pages pass through on their way to a socket (splice(2) file -> pipe -> socket),
    empty between calls. One per Server, used on its event loop only (never by two sends at once)."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except OSError:  # over the user's pipe-user-pages limits: the default size (64 KiB) still works
            pass
        self.capacity: int = fcntl.fcntl(self._write_fd, fcntl.F_GETPIPE_SZ)

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1

    def write_now(self, sock_fd: int, chunks: Sequence[Chunk]) -> list[Chunk]:
        """Send `chunks` in order on the non-blocking socket `sock_fd` as far as it takes them now; what is
        left: the first chunk not sent in full (bytes cut to their unsent part, a range advanced past what
        went), then every chunk after it. [] when all went. Raises OSError when the peer is gone (EPIPE,
        ECONNRESET) and ShortRange when a file holds fewer bytes than its range."""
        i, count = 0, len(chunks)
        while i < count:
            chunk = chunks[i]
            if isinstance(chunk, FileRange):
                left = self._send_range(sock_fd, chunk, more=i + 1 < count)
                if left is not None:  # the socket is full: what went into the pipe and did not leave it
                    rest = chunks[i:] if chunk.size else chunks[i + 1 :]
                    return [left, *rest] if left else list(rest)
                i += 1
                continue
            end = i + 1
            while end < count and end - i < _IOV_MAX and not isinstance(chunks[end], FileRange):
                end += 1
            run: list[bytes | memoryview] = [c for c in chunks[i:end] if len(c)]  # type: ignore[misc]
            written = 0
            if run:
                try:
                    written = os.writev(sock_fd, run)
                except BlockingIOError:
                    pass
            for j, data in enumerate(run):
                if written < len(data):
                    return [memoryview(data)[written:], *run[j + 1 :], *chunks[end:]]
                written -= len(data)
            i = end
        return []

    def _send_range(self, sock_fd: int, chunk: FileRange, *, more: bool) -> bytes | None:
        """Move `chunk` to the socket a pipe at a time (advancing it); None when all went, else the bytes
        that were in the pipe when the socket filled up (drained: the pipe is left empty)."""
        while chunk.size:
            # file -> pipe: page references, no copy (blocks only to read pages from the disk)
            in_pipe = os.splice(
                chunk.fd, self._write_fd, min(chunk.size, self.capacity), offset_src=chunk.position
            )
            if in_pipe == 0:
                raise ShortRange(f"end of file at {chunk.position} with {chunk.size} bytes to send")
            chunk.advance(in_pipe)
            flags = os.SPLICE_F_MORE if more or chunk.size else 0
            try:
                while in_pipe:  # pipe -> socket
                    in_pipe -= os.splice(self._read_fd, sock_fd, in_pipe, flags=flags)
            except BlockingIOError:
                return self._drain(in_pipe)
            except BaseException:
                self._drain(in_pipe)
                raise
        return None

    def _drain(self, size: int) -> bytes:
        parts = []
        while size:
            data = os.read(self._read_fd, size)
            parts.append(data)
            size -= len(data)
        return b"".join(parts)


def read_ranges(chunks: Sequence[Chunk]) -> list[bytes | memoryview]:
    """Every range read into bytes (raises ShortRange for a truncated file); each range is closed."""
    out: list[bytes | memoryview] = []
    try:
        for chunk in chunks:
            out.append(chunk.read_bytes() if isinstance(chunk, FileRange) else chunk)
    finally:
        close_ranges(chunks)
    return out


def close_ranges(chunks: Sequence[Chunk]) -> None:
    for chunk in chunks:
        if isinstance(chunk, FileRange):
            chunk.close()


def range_bytes(chunks: Sequence[Chunk]) -> int:
    """How many bytes of `chunks` are still in files."""
    return sum(chunk.size for chunk in chunks if isinstance(chunk, FileRange))
