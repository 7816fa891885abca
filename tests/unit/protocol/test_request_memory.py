"""Request memory: bytes are held as they arrive, big frames reserve their size in the pool, idle
connections hold nothing, and whatever a connection reserved comes back when it is answered or closed."""

from __future__ import annotations

import struct

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.protocol.connection import NEED_DATA, Request, ServerConnection
from brook.protocol.request_memory import RequestMemory
from tests.unit.protocol.frames import feed, metadata_frame

handlers.load_all()
SUPPORTED = {h.api_key: h.versions for h in REGISTRY.values()}
MIB = 1024 * 1024


def _connection(memory: RequestMemory) -> ServerConnection:
    return ServerConnection(max_request_bytes=100 * MIB, supported=SUPPORTED, memory=memory)


def _next(conn: ServerConnection) -> Request:
    request = conn.next_request()
    assert isinstance(request, Request)
    return request


def test_a_100_mib_prefix_with_four_bytes_holds_no_100_mib_buffer() -> None:
    memory = RequestMemory(capacity=200 * MIB)
    conn = _connection(memory)
    feed(conn, struct.pack(">i", 100 * MIB) + b"\x00\x03\x00\x04", 100)
    assert memory.reserved == 100 * MIB  # accounted for...
    assert len(conn.get_buffer(-1)) <= 256 * 1024  # ...but stored only as it arrives
    assert conn.next_request() is NEED_DATA
    conn.close()
    assert memory.reserved == 0
    assert memory.scratch_in_use == 0


def test_a_full_pool_blocks_the_next_big_frame_until_a_request_is_released() -> None:
    memory = RequestMemory(capacity=1 * MIB, scratch_bytes=1024)
    big = metadata_frame(1, ["t" * 200] * 4000)  # ~800 KB
    first, second = _connection(memory), _connection(memory)
    feed(first, big, 64 * 1024)
    request = _next(first)
    assert memory.reserved == len(big) - 4
    feed(second, big[:100], 100)
    assert second.memory_blocked
    assert second.buffered_bytes == 100
    second.retry_memory()
    assert second.memory_blocked  # still full
    first.release(request)
    assert memory.reserved == 0
    second.retry_memory()
    assert not second.memory_blocked
    feed(second, big[100:], 64 * 1024)
    assert [t.name for t in _next(second).body.topics] == ["t" * 200] * 4000


def test_a_big_frame_grows_as_it_arrives_and_decodes_whole() -> None:
    memory = RequestMemory(capacity=100 * MIB)
    topics = [f"topic-{i:06d}-" + "x" * 20 for i in range(40_000)]  # a 1.3 MB frame
    frame = metadata_frame(5, topics)
    conn = _connection(memory)
    sizes = []
    pos = 0
    while pos < len(frame):
        buf = conn.get_buffer(-1)
        sizes.append(len(buf.obj))  # type: ignore[arg-type]
        n = min(len(buf), 60_000, len(frame) - pos)
        buf[:n] = frame[pos : pos + n]
        conn.buffer_updated(n)
        pos += n
    assert sizes[1] < len(frame) - 4  # not allocated from the prefix
    request = _next(conn)
    assert [t.name for t in request.body.topics] == topics
    conn.release(request)
    assert memory.reserved == 0


def test_an_idle_connection_holds_no_scratch_buffer() -> None:
    memory = RequestMemory(capacity=MIB)
    conns = [_connection(memory) for _ in range(100)]
    assert memory.scratch_in_use == 0
    for conn in conns:
        feed(conn, metadata_frame(1, ["a"]), 1000)
        assert _next(conn).correlation_id == 1
    assert memory.scratch_in_use == 0
    feed(conns[0], metadata_frame(2, ["b"])[:7], 1000)  # a partial frame of a few bytes is parked
    assert memory.scratch_in_use == 0
    feed(conns[0], metadata_frame(2, ["b"])[7:], 1000)
    assert _next(conns[0]).correlation_id == 2


def test_a_bad_big_frame_gives_its_reservation_back() -> None:
    memory = RequestMemory(capacity=100 * MIB, scratch_bytes=1024)
    body = b"\xff\xff\xff\x7f" + b"\x00" * 5000  # Metadata v4 with an impossible topic count
    header = struct.pack(">hhih", 3, 4, 1, 1) + b"c"
    conn = _connection(memory)
    feed(conn, struct.pack(">i", len(header) + len(body)) + header + body, 4096)
    try:
        conn.next_request()
    except Exception:  # noqa: BLE001
        pass
    else:
        raise AssertionError("the frame should have been rejected")
    assert memory.reserved == 0
