"""Framing through get_buffer/buffer_updated: any split of the byte stream yields the same requests."""

from __future__ import annotations

import struct

import pytest

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.protocol.connection import NEED_DATA, RemoteProtocolError, ServerConnection
from tests.unit.protocol.frames import feed, metadata_frame

handlers.load_all()


def _connection(scratch_bytes: int = 64) -> ServerConnection:
    return ServerConnection(
        max_request_bytes=1024 * 1024,
        supported={h.api_key: h.versions for h in REGISTRY.values()},
        scratch_bytes=scratch_bytes,
    )


def _drain(conn: ServerConnection) -> list[tuple[int, list[str]]]:
    out = []
    while (request := conn.next_request()) is not NEED_DATA:
        out.append((request.correlation_id, [t.name for t in request.body.topics]))
    return out


@pytest.mark.parametrize("step", [1, 3, 7, 64, 1000])
@pytest.mark.parametrize("scratch_bytes", [32, 64, 256 * 1024])
def test_frames_survive_any_read_split(step: int, scratch_bytes: int) -> None:
    # Small frames stay in the scratch buffer; the long topic name makes one bigger than a small scratch.
    topics = [["a"], ["b" * 200, "c"], [], ["d" * 20]]
    stream = b"".join(metadata_frame(i, t) for i, t in enumerate(topics))
    conn = _connection(scratch_bytes)
    feed(conn, stream, step)
    assert _drain(conn) == list(enumerate(topics))
    assert conn.buffered_bytes == 0


def test_big_frame_is_read_into_its_own_buffer() -> None:
    conn = _connection(64)
    frame = metadata_frame(9, ["x" * 500])
    feed(conn, frame[:40], 40)
    assert conn.next_request() is NEED_DATA
    buf = conn.get_buffer(-1)
    assert len(buf) == len(frame) - 40  # exactly the rest of the frame, no copy through the scratch
    buf[:] = frame[40:]
    conn.buffer_updated(len(frame) - 40)
    assert _drain(conn) == [(9, ["x" * 500])]


def test_requests_before_a_bad_frame_are_still_returned() -> None:
    conn = _connection()
    feed(conn, metadata_frame(1, ["a"]) + struct.pack(">i", -5), 1000)
    first = conn.next_request()
    assert first is not NEED_DATA
    assert first.correlation_id == 1
    with pytest.raises(RemoteProtocolError):
        conn.next_request()


def test_big_frame_buffer_is_reused_once_the_request_is_released() -> None:
    conn = _connection(64)
    frame = metadata_frame(1, ["x" * 500])
    feed(conn, frame, 10_000)
    first = conn.next_request()
    assert first is not NEED_DATA
    assert first.buffer is not None
    buffer = first.buffer
    conn.release(first)
    feed(conn, frame[:40], 40)
    assert conn.get_buffer(-1).obj is buffer
    feed(conn, frame[40:], 10_000)
    assert _drain(conn) == [(1, ["x" * 500])]
