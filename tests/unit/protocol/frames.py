"""Request frames and byte feeding shared by the ServerConnection tests."""

from __future__ import annotations

import struct

from brook.protocol import codec
from brook.protocol.connection import ServerConnection


def metadata_frame(correlation_id: int, topics: list[str]) -> bytes:
    """A Metadata v4 request frame (client id "c") for these topics."""
    body = codec.encode_body(
        codec.build(codec.request_class(3, 4), {"topics": [{"name": t} for t in topics]})
    )
    header = struct.pack(">hhih", 3, 4, correlation_id, 1) + b"c"
    return struct.pack(">i", len(header) + len(body)) + header + body


def feed(conn: ServerConnection, data: bytes, step: int) -> None:
    """Hand `data` to the connection through its buffer protocol, at most `step` bytes at a time."""
    pos = 0
    while pos < len(data):
        buf = conn.get_buffer(-1)
        n = min(len(buf), step, len(data) - pos)
        buf[:n] = data[pos : pos + n]
        conn.buffer_updated(n)
        pos += n
