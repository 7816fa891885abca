"""Whatever bytes a peer sends, the protocol layer answers with a request or RemoteProtocolError, never
another exception (which would be a broker bug); and batch validation raises only BrookErrors."""

from __future__ import annotations

import struct

from hypothesis import example, given
from hypothesis import strategies as st

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.common.errors import BrookError
from brook.protocol.connection import NEED_DATA, RemoteProtocolError, ServerConnection
from brook.records.batch import validate_batches
from brook.testing import make_batch

handlers.load_all()
SUPPORTED = {h.api_key: h.versions for h in REGISTRY.values()}


def _drain(conn: ServerConnection) -> None:
    while conn.next_request() is not NEED_DATA:
        pass


@given(
    api_key=st.sampled_from(sorted(SUPPORTED)),
    version=st.integers(min_value=-1, max_value=20),
    body=st.binary(max_size=300),
)
@example(api_key=0, version=9, body=b"\x00" * 40)
def test_random_bodies_never_raise_anything_but_remote_protocol_error(
    api_key: int, version: int, body: bytes
) -> None:
    header = struct.pack(">hhih", api_key, version, 1, 1) + b"c" + b"\x00"
    conn = ServerConnection(max_request_bytes=1 << 20, supported=SUPPORTED)
    conn.receive_data(struct.pack(">i", len(header) + len(body)) + header + body)
    try:
        _drain(conn)
    except RemoteProtocolError:
        pass


@given(data=st.binary(max_size=500))
def test_random_streams_never_raise_anything_but_remote_protocol_error(data: bytes) -> None:
    conn = ServerConnection(max_request_bytes=1 << 20, supported=SUPPORTED)
    conn.receive_data(data)
    try:
        _drain(conn)
    except RemoteProtocolError:
        pass


@given(position=st.integers(min_value=0, max_value=200), value=st.integers(min_value=0, max_value=255))
def test_damaged_batches_raise_only_brook_errors(position: int, value: int) -> None:
    batch = bytearray(make_batch([(b"key", b"value" * 10), (None, b"x")]))
    batch[position % len(batch)] = value
    try:
        validate_batches(batch)
    except BrookError:
        pass
