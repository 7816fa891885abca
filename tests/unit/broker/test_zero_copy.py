"""broker/zero_copy.py on real sockets and files: a response of bytes and file ranges arrives byte for byte
in order, whatever the socket takes at once; what it does not take comes back to be sent later; a file
truncated under its range is refused; the pipe is left empty after every send."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from brook.broker.handlers.fetch import _read_slices, _take_ranges, _unread_bytes
from brook.broker.replica_manager import FetchResult
from brook.broker.zero_copy import (
    FileRange,
    RangeBudget,
    ShortRange,
    SplicePipe,
    close_ranges,
    range_bytes,
    read_ranges,
)
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.storage.api import FileSlice

MiB = 1024 * 1024
BUDGET = RangeBudget(1000)


def _range(source: FileSlice) -> FileRange:
    taken = BUDGET.take(source)
    assert taken is not None
    return taken


@pytest.fixture
def pipe():
    made = SplicePipe()
    yield made
    made.close()


@pytest.fixture
def segment(tmp_path):
    """A 3 MiB file of random bytes, open for reading: (fd, contents)."""
    data = os.urandom(3 * MiB)
    path = tmp_path / "00000000000000000000.log"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    yield fd, data
    os.close(fd)


@pytest.fixture
def connection():
    """A loopback TCP connection: (sender set non-blocking, receiver)."""
    listener = socket.create_server(("127.0.0.1", 0))
    receiver = socket.create_connection(listener.getsockname())
    sender, _ = listener.accept()
    listener.close()
    sender.setblocking(False)
    yield sender, receiver
    sender.close()
    receiver.close()


@contextlib.contextmanager
def _pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair, the first non-blocking (as a broker's connection is)."""
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _receive(sock: socket.socket, size: int, out: list[bytes]) -> threading.Thread:
    def run() -> None:
        got = 0
        while got < size:
            chunk = sock.recv(min(MiB, size - got))
            if not chunk:
                break
            out.append(chunk)
            got += len(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _send_rest(sock: socket.socket, rest: list) -> None:
    """What the transport would do with what write_now left: the bytes, blocking until they are all sent."""
    sock.setblocking(True)
    for data in read_ranges(rest):
        sock.sendall(data)


def test_bytes_and_ranges_arrive_in_order_byte_for_byte(pipe, segment, connection):
    fd, data = segment
    sender, receiver = connection
    chunks = [
        b"header",
        _range(FileSlice(fd, 100, 2 * MiB)),
        b"",  # an empty chunk (a v11 response ends with one) is skipped, not sent
        b"between",
        _range(FileSlice(fd, 5, 10)),
        b"trailer",
    ]
    expected = b"header" + data[100 : 100 + 2 * MiB] + b"between" + data[5:15] + b"trailer"
    got: list[bytes] = []
    reader = _receive(receiver, len(expected), got)
    rest = pipe.write_now(sender.fileno(), chunks)
    _send_rest(sender, rest)
    reader.join(30)
    assert b"".join(got) == expected
    close_ranges(chunks)


def test_what_a_full_socket_does_not_take_comes_back_in_order_and_the_pipe_is_left_empty(
    pipe, segment, connection
):
    fd, data = segment
    sender, receiver = connection
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    chunks = [b"h" * 10, _range(FileSlice(fd, 0, 3 * MiB)), b"t" * 10]
    rest = pipe.write_now(sender.fileno(), chunks)  # nobody reads yet: the socket fills up
    assert rest, "a 3 MiB range cannot fit a 64 KiB socket buffer"
    assert range_bytes(rest) < 3 * MiB
    assert rest[-1] == b"t" * 10
    got: list[bytes] = []
    expected = b"h" * 10 + data + b"t" * 10
    reader = _receive(receiver, len(expected), got)
    _send_rest(sender, rest)
    reader.join(30)
    assert b"".join(got) == expected
    assert all(isinstance(c, bytes | memoryview) or c.fd == -1 for c in chunks)  # read_ranges closed them
    # the pipe holds nothing of this response: another connection's send is not polluted by it
    with _pair() as (a, b):
        assert pipe.write_now(a.fileno(), [_range(FileSlice(fd, 7, 1000))]) == []
        assert b.recv(2000) == data[7:1007]


def test_bytes_the_socket_does_not_take_come_back_cut_where_it_stopped(pipe, connection):
    sender, receiver = connection
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    big = os.urandom(4 * MiB)
    rest = pipe.write_now(sender.fileno(), [b"a" * 100, big, b"z"])
    assert 0 < sum(len(c) for c in rest) < len(big) + 1
    got: list[bytes] = []
    reader = _receive(receiver, 100 + len(big) + 1, got)
    _send_rest(sender, rest)
    reader.join(30)
    assert b"".join(got) == b"a" * 100 + big + b"z"


def test_a_range_past_the_end_of_its_truncated_file_is_refused_and_the_pipe_left_empty(
    pipe, segment, connection, tmp_path
):
    fd, data = segment
    sender, receiver = connection
    path = tmp_path / "00000000000000000000.log"
    shrunk = _range(FileSlice(fd, 0, 2 * MiB))
    os.truncate(path, MiB)  # a leader that became a follower truncated the segment under the range
    got: list[bytes] = []
    reader = _receive(receiver, MiB, got)
    with pytest.raises(ShortRange):
        pipe.write_now(sender.fileno(), [shrunk])
    reader.join(30)
    assert b"".join(got) == data[:MiB]  # what the file still held went; the writer closes the connection
    with pytest.raises(ShortRange):
        _range(FileSlice(fd, 0, 2 * MiB)).read_bytes()
    with _pair() as (a, b):
        assert pipe.write_now(a.fileno(), [_range(FileSlice(fd, 3, 100))]) == []
        assert b.recv(200) == data[3:103]
    shrunk.close()


def test_a_range_reads_its_own_descriptor_after_the_segment_closed_its_number(segment, tmp_path):
    """The descriptor LRU may close a segment's fd while its response waits, and the number may be reused
    for another file: the range reads the file it was taken from."""
    fd, data = segment
    dup = os.dup(fd)
    taken = _range(FileSlice(dup, 10, 100))
    os.close(dup)
    other = tmp_path / "other"
    other.write_bytes(b"x" * 1000)
    reused = os.open(other, os.O_RDONLY)  # likely the number just closed
    try:
        assert taken.read_bytes() == data[10:110]
    finally:
        os.close(reused)
        taken.close()
    assert taken.fd == -1
    taken.close()  # closing twice is harmless


def test_a_peer_gone_mid_response_raises_and_leaves_the_pipe_empty(pipe, segment):
    fd, data = segment
    a, b = socket.socketpair()
    a.setblocking(False)
    b.close()
    with pytest.raises(OSError):
        pipe.write_now(a.fileno(), [b"header", _range(FileSlice(fd, 0, MiB))])
    a.close()
    with _pair() as (c, d):
        assert pipe.write_now(c.fileno(), [_range(FileSlice(fd, 0, 50))]) == []
        assert d.recv(100) == data[:50]


def test_the_range_budget_bounds_the_descriptors_held_and_gets_them_back_on_close(segment):
    fd, data = segment
    budget = RangeBudget(2)
    first, second = budget.take(FileSlice(fd, 0, 10)), budget.take(FileSlice(fd, 10, 10))
    assert first is not None
    assert second is not None
    assert budget.take(FileSlice(fd, 20, 10)) is None  # spent: the handler reads this slice into bytes
    assert read_ranges([first]) == [data[:10]]  # read_ranges closes what it read
    assert budget.in_use == 1
    third = budget.take(FileSlice(fd, 20, 10))
    assert third is not None
    assert third.read_bytes() == data[20:30]
    del third  # a response dropped unsent gives its descriptors back too
    second.close()
    assert budget.in_use == 0


def test_the_fetch_handler_sends_what_the_budget_takes_from_the_files_and_reads_the_rest(segment):
    """handlers/fetch.py: slices the connection takes become ranges, the others are read into bytes, and each
    partition's size stays what its records hold."""
    fd, data = segment
    budget = RangeBudget(2)

    class Connection:
        def file_range(self, source: FileSlice) -> FileRange | None:
            return budget.take(source)

    results = [
        FetchResult(TopicPartition("t", p), ErrorCode.none, records=[FileSlice(fd, p * 100, 100)], size=100)
        for p in range(3)
    ]
    results[2].records.append(b"in memory")
    results[2].size += len(b"in memory")
    _take_ranges(results, Connection())
    assert [type(r.records[0]) for r in results] == [FileRange, FileRange, FileSlice]
    assert _unread_bytes(results) == 100
    _read_slices(results)
    assert results[2].records == [data[200:300], b"in memory"]
    assert [r.size for r in results] == [100, 100, 109]
    assert [r.records[0].read_bytes() for r in results[:2]] == [data[:100], data[100:200]]
    close_ranges([c for r in results for c in r.records])
    assert budget.in_use == 0
