"""Every request and response version brook advertises encodes and decodes back to itself."""

from __future__ import annotations

import struct

import pytest

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.protocol import codec, legacy
from brook.protocol.connection import NEED_DATA, RemoteProtocolError, ServerConnection

handlers.load_all()

# Produce v0-2, OffsetForLeaderEpoch v0-1 and protocol/legacy.py's versions are coded by hand (kio has no
# classes for them).
BY_HAND = {(0, 0), (0, 1), (0, 2), (23, 0), (23, 1), *legacy.REQUESTS}
ADVERTISED = sorted(
    (h.api_key, v) for h in REGISTRY.values() for v in h.versions if (h.api_key, v) not in BY_HAND
)


@pytest.mark.parametrize(("api_key", "version"), ADVERTISED)
def test_request_roundtrip_every_advertised_version(api_key: int, version: int) -> None:
    cls = codec.request_class(api_key, version)
    entity = codec.build(cls, {})
    encoded = codec.encode_body(entity)
    assert codec.decode_request_body(api_key, version, encoded, 0) == entity


@pytest.mark.parametrize(("api_key", "version"), ADVERTISED)
def test_response_builds_from_empty_fields_every_advertised_version(api_key: int, version: int) -> None:
    cls = codec.response_class(api_key, version)
    assert codec.encode_body(codec.build(cls, {}))


def test_build_drops_fields_a_version_lacks_and_fills_defaults() -> None:
    fields = {
        "responses": [
            {"name": "t", "partition_responses": [{"index": 0, "base_offset": 7, "log_append_time": -1}]}
        ]
    }
    v3 = codec.build(codec.response_class(0, 3), fields)
    v9 = codec.build(codec.response_class(0, 9), fields)
    assert v3.responses[0].partition_responses[0].base_offset == 7
    assert v9.responses[0].partition_responses[0].log_start_offset == -1


def _frame(api_key: int, version: int, correlation_id: int, body: bytes, client_id: bytes = b"test") -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    if (
        api_key in REGISTRY
        and version in REGISTRY[api_key].versions
        and codec.is_flexible_request(api_key, version)
    ):
        header += b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _connection() -> ServerConnection:
    return ServerConnection(
        max_request_bytes=1024 * 1024, supported={h.api_key: h.versions for h in REGISTRY.values()}
    )


def test_connection_parses_requests_split_across_reads() -> None:
    body = codec.encode_body(codec.build(codec.request_class(3, 9), {"topics": None}))
    frame = _frame(3, 9, 42, body)
    conn = _connection()
    conn.receive_data(frame[:5])
    assert conn.next_request() is NEED_DATA
    conn.receive_data(frame[5:] + frame)
    first = conn.next_request()
    second = conn.next_request()
    assert first.correlation_id == 42
    assert first.body.topics is None
    assert second.correlation_id == 42
    assert conn.next_request() is NEED_DATA


def test_api_versions_response_header_is_v0_even_for_v3() -> None:
    conn = _connection()
    body = codec.encode_body(
        codec.build(codec.request_class(18, 3), {"client_software_name": "x", "client_software_version": "1"})
    )
    conn.receive_data(_frame(18, 3, 7, body))
    request = conn.next_request()
    out = b"".join(conn.send_response(request, codec.build(codec.response_class(18, 3), {})))
    size, correlation_id = struct.unpack_from(">ii", out)
    assert correlation_id == 7
    assert size == len(out) - 4
    assert out[8:10] == b"\x00\x00"  # error_code right after the correlation id: no tagged-field byte


def test_unknown_api_versions_version_is_flagged_not_rejected() -> None:
    conn = _connection()
    conn.receive_data(_frame(18, 99, 1, b"\x00garbage"))
    request = conn.next_request()
    assert request.unsupported_version


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">i", -5),
        struct.pack(">i", 2 * 1024 * 1024),
        _frame(9999, 0, 1, b""),
        _frame(3, 9, 1, b"\xff\xff\xff"),
    ],
    ids=["negative-size", "oversized", "unknown-api", "undecodable-body"],
)
def test_bad_frames_raise_remote_protocol_error(frame: bytes) -> None:
    conn = _connection()
    conn.receive_data(frame)
    with pytest.raises(RemoteProtocolError):
        conn.next_request()


def test_a_minus_one_timestamp_is_written_as_minus_one_in_nullable_and_non_nullable_fields() -> None:
    """Kafka's "no timestamp" (-1): DescribeTransactions' start time cannot be null, Produce's log append time
    can; both must carry -1 on the wire (a None in the non-nullable one crashed the encoder)."""
    described = codec.response_class(65, 0)
    for start_ms in (-1, 0, 1_700_000_000_123):
        body = codec.build(
            described,
            {
                "transaction_states": [
                    {
                        "error_code": 0,
                        "transactional_id": "t",
                        "transaction_state": "Empty",
                        "transaction_timeout": 60000,
                        "transaction_start_time": start_ms,
                        "producer_id": 7,
                        "producer_epoch": 0,
                    }
                ]
            },
        )
        encoded = codec.encode_body(body)
        # throttle_time, array length, error_code, "t", "Empty", timeout: then the start time
        start = 4 + 1 + 2 + 2 + 6 + 4
        assert struct.unpack_from(">q", encoded, start)[0] == start_ms
        assert struct.unpack_from(">q", encoded, start + 8)[0] == 7  # the producer id follows
    produced = codec.response_class(0, 9)
    partition = {"index": 0, "error_code": 0, "base_offset": 5, "log_append_time": -1}
    body = codec.build(produced, {"responses": [{"name": "t", "partition_responses": [partition]}]})
    encoded = codec.encode_body(body)
    head = 1 + 2 + 1 + 4 + 2 + 8  # responses, "t", partitions, index, error_code, base_offset
    assert struct.unpack_from(">q", encoded, head)[0] == -1
