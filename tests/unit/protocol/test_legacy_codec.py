"""Old versions kio lacks (protocol/legacy.py, Produce v0-2, Fetch v0-3): layouts from Kafka 3.9's message
JSON, written out here field by field with struct, and decoded/encoded by brook byte for byte."""

from __future__ import annotations

import struct

import pytest

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.protocol import legacy
from brook.protocol.connection import RemoteProtocolError, ServerConnection
from brook.protocol.fetch_response import FetchPartitionData, encode_fetch_response
from brook.protocol.produce import ProducePartitionResult, decode_produce_request, encode_produce_response

handlers.load_all()


def s(text: str | None) -> bytes:
    """A classic (int16-length) string; None is the null string."""
    if text is None:
        return struct.pack(">h", -1)
    return struct.pack(">h", len(text)) + text.encode()


def i8(v: int) -> bytes:
    return struct.pack(">b", v)


def i16(v: int) -> bytes:
    return struct.pack(">h", v)


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def test_list_offsets_v0_request_and_response() -> None:
    body = i32(-1) + i32(1) + s("t") + i32(1) + i32(0) + i64(-2) + i32(5)
    req = legacy.decode_request(2, 0, body)
    assert req.replica_id == -1
    assert req.isolation_level == 0
    (topic,) = req.topics
    assert topic.name == "t"
    assert [(p.partition_index, p.timestamp, p.max_num_offsets) for p in topic.partitions] == [(0, -2, 5)]
    out = legacy.encode_response(
        2,
        0,
        {
            "throttle_time": 0,
            "topics": [
                {
                    "name": "t",
                    "partitions": [{"partition_index": 0, "error_code": 0, "old_style_offsets": [9, 4]}],
                }
            ],
        },
    )
    assert out == i32(1) + s("t") + i32(1) + i32(0) + i16(0) + i32(2) + i64(9) + i64(4)


def test_offset_commit_v0_and_v1_requests() -> None:
    partitions = i32(1) + i32(3) + i64(42) + s(None)
    req0 = legacy.decode_request(8, 0, s("g") + i32(1) + s("t") + partitions)
    assert (req0.group_id, req0.generation_id_or_member_epoch, req0.member_id, req0.retention_time) == (
        "g",
        -1,
        "",
        -1,
    )
    (p,) = req0.topics[0].partitions
    assert (p.partition_index, p.committed_offset, p.committed_metadata) == (3, 42, None)
    v1_partitions = i32(1) + i32(3) + i64(42) + i64(1_700_000_000_000) + s("meta")
    req1 = legacy.decode_request(8, 1, s("g") + i32(7) + s("m-1") + i32(1) + s("t") + v1_partitions)
    assert (req1.generation_id_or_member_epoch, req1.member_id) == (7, "m-1")
    (p,) = req1.topics[0].partitions
    assert (p.committed_offset, p.commit_timestamp, p.committed_metadata) == (42, 1_700_000_000_000, "meta")
    response = {
        "throttle_time": 0,
        "topics": [{"name": "t", "partitions": [{"partition_index": 3, "error_code": 25}]}],
    }
    expected = i32(1) + s("t") + i32(1) + i32(3) + i16(25)
    assert legacy.encode_response(8, 0, response) == expected
    assert legacy.encode_response(8, 1, response) == expected


def test_offset_fetch_v0() -> None:
    req = legacy.decode_request(9, 0, s("g") + i32(1) + s("t") + i32(2) + i32(0) + i32(1))
    assert req.group_id == "g"
    assert [(t.name, t.partition_indexes) for t in req.topics] == [("t", [0, 1])]
    partition = {
        "partition_index": 0,
        "committed_offset": 5,
        "committed_leader_epoch": 2,
        "metadata": "",
        "error_code": 0,
    }
    out = legacy.encode_response(
        9, 0, {"throttle_time": 0, "error_code": 0, "topics": [{"name": "t", "partitions": [partition]}]}
    )
    assert out == i32(1) + s("t") + i32(1) + i32(0) + i64(5) + s("") + i16(0)


def test_create_topics_v0_v1() -> None:
    topic = (
        s("t")
        + i32(3)
        + i16(1)
        + i32(1)
        + i32(0)
        + i32(1)
        + i32(1)
        + i32(1)
        + s("cleanup.policy")
        + s("compact")
    )
    req0 = legacy.decode_request(19, 0, i32(1) + topic + i32(5000))
    assert req0.validate_only is False
    (t,) = req0.topics
    assert (t.name, t.num_partitions, t.replication_factor, req0.timeout_ms) == ("t", 3, 1, 5000)
    assert [(a.partition_index, a.broker_ids) for a in t.assignments] == [(0, [1])]
    assert [(c.name, c.value) for c in t.configs] == [("cleanup.policy", "compact")]
    req1 = legacy.decode_request(19, 1, i32(1) + topic + i32(5000) + b"\x01")
    assert req1.validate_only is True
    result = {
        "throttle_time": 0,
        "topics": [{"name": "t", "error_code": 36, "error_message": "exists", "topic_id": None}],
    }
    assert legacy.encode_response(19, 0, result) == i32(1) + s("t") + i16(36)
    assert legacy.encode_response(19, 1, result) == i32(1) + s("t") + i16(36) + s("exists")


def test_delete_topics_v0() -> None:
    req = legacy.decode_request(20, 0, i32(2) + s("a") + s("b") + i32(3000))
    assert (req.topic_names, req.timeout_ms) == (["a", "b"], 3000)
    out = legacy.encode_response(
        20, 0, {"throttle_time": 0, "responses": [{"name": "a", "error_code": 0, "topic_id": "x"}]}
    )
    assert out == i32(1) + s("a") + i16(0)  # no throttle time in v0


def test_describe_configs_v0() -> None:
    body = i32(2) + i8(2) + s("t") + i32(-1) + i8(4) + s("1") + i32(1) + s("log.retention.hours")
    req = legacy.decode_request(32, 0, body)
    assert req.include_synonyms is False
    assert [(r.resource_type, r.resource_name, r.configuration_keys) for r in req.resources] == [
        (2, "t", None),
        (4, "1", ["log.retention.hours"]),
    ]
    config = {
        "name": "retention.ms",
        "value": "1000",
        "read_only": False,
        "config_source": 1,
        "is_default": False,
        "is_sensitive": False,
        "synonyms": [],
    }
    out = legacy.encode_response(
        32,
        0,
        {
            "throttle_time": 0,
            "results": [
                {
                    "error_code": 0,
                    "error_message": None,
                    "resource_type": 2,
                    "resource_name": "t",
                    "configs": [config],
                }
            ],
        },
    )
    assert out == (
        i32(0)
        + i32(1)
        + i16(0)
        + s(None)
        + i8(2)
        + s("t")
        + i32(1)
        + s("retention.ms")
        + s("1000")
        + b"\x00"
        + b"\x00"
        + b"\x00"
    )


def test_describe_log_dirs_v0() -> None:
    assert legacy.decode_request(35, 0, i32(-1)).topics is None
    req = legacy.decode_request(35, 0, i32(1) + s("t") + i32(1) + i32(0))
    assert [(t.topic, t.partitions) for t in req.topics] == [("t", [0])]
    partition = {"partition_index": 0, "partition_size": 123, "offset_lag": 0, "is_future_key": False}
    out = legacy.encode_response(
        35,
        0,
        {
            "throttle_time": 0,
            "results": [
                {"error_code": 0, "log_dir": "/d", "topics": [{"name": "t", "partitions": [partition]}]}
            ],
        },
    )
    assert (
        out
        == i32(0)
        + i32(1)
        + i16(0)
        + s("/d")
        + i32(1)
        + s("t")
        + i32(1)
        + i32(0)
        + i64(123)
        + i64(0)
        + b"\x00"
    )


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_fetch_v0_3_request(version: int) -> None:
    head = i32(-1) + i32(500) + i32(1) + (i32(1024) if version == 3 else b"")
    body = head + i32(1) + s("t") + i32(1) + i32(0) + i64(7) + i32(65536)
    req = legacy.decode_request(1, version, body)
    assert (req.replica_id, req.max_wait, req.min_bytes) == (-1, 500, 1)
    assert getattr(req, "max_bytes", None) == (1024 if version == 3 else None)
    (p,) = req.topics[0].partitions
    assert (req.topics[0].topic, p.partition, p.fetch_offset, p.partition_max_bytes) == ("t", 0, 7, 65536)


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_fetch_v0_3_response(version: int) -> None:
    records = [b"\x01" * 10, b"\x02" * 5]
    partitions = [
        FetchPartitionData(0, 0, 100, 100, 0, records, 15),
        FetchPartitionData(1, 6, -1, -1, -1, [], 0),
    ]
    out = b"".join(encode_fetch_response(version, [("t", partitions)], throttle_time_ms=0))
    expected = (i32(0) if version >= 1 else b"") + i32(1) + s("t") + i32(2)
    expected += i32(0) + i16(0) + i64(100) + i32(15) + b"\x01" * 10 + b"\x02" * 5
    expected += i32(1) + i16(6) + i64(-1) + i32(0)
    assert out == expected


@pytest.mark.parametrize("version", [0, 1, 2])
def test_produce_v0_2_request_and_response(version: int) -> None:
    message_set = b"\xaa" * 30
    body = i16(-1) + i32(1000) + i32(1) + s("t") + i32(1) + i32(0) + i32(len(message_set)) + message_set
    frame = bytearray(body)
    req = decode_produce_request(frame, 0, version)
    assert (req.transactional_id, req.acks, req.timeout_ms) == (None, -1, 1000)
    (p,) = req.topic_data[0].partition_data
    assert (p.index, bytes(p.records)) == (0, message_set)
    out = encode_produce_response(
        version, [("t", [ProducePartitionResult(0, 0, 42, 1_700_000_000_000)])], throttle_time_ms=7
    )
    expected = i32(1) + s("t") + i32(1) + i32(0) + i16(0) + i64(42)
    if version >= 2:
        expected += i64(1_700_000_000_000)
    if version >= 1:
        expected += i32(7)
    assert out == expected


@pytest.mark.parametrize(("api_key", "version"), sorted(legacy.REQUESTS))
@pytest.mark.parametrize("body", [b"", b"\x00", b"\x7f" * 64, b"\x00\x01g" + b"\x7f\xff\xff\xff" * 8])
def test_truncated_and_lying_requests_are_refused(api_key: int, version: int, body: bytes) -> None:
    """Empty, cut, or announcing ~2^31 elements / 32 KiB strings in 64 bytes: refused at once."""
    with pytest.raises(legacy.LegacyDecodeError):
        legacy.decode_request(api_key, version, body)


def test_connection_decodes_old_versions_and_closes_on_garbage() -> None:
    conn = ServerConnection(
        max_request_bytes=1 << 20, supported={h.api_key: h.versions for h in REGISTRY.values()}
    )
    body = i32(-1) + i32(1) + s("t") + i32(1) + i32(0) + i64(-1) + i32(1)
    header = i16(2) + i16(0) + i32(9) + s("old-client")
    conn.receive_data(i32(len(header) + len(body)) + header + body)
    request = conn.next_request()
    assert request.legacy
    assert request.body.topics[0].partitions[0].max_num_offsets == 1
    framed = b"".join(conn.send_response(request, b"\x00\x00\x00\x00"))
    assert framed == i32(8) + i32(9) + b"\x00\x00\x00\x00"  # response header v0: no tagged fields
    bad = i16(2) + i16(0) + i32(10) + s("old-client") + i32(5)
    conn.receive_data(i32(len(bad)) + bad)
    with pytest.raises(RemoteProtocolError):
        conn.next_request()


def test_acl_apis_v0_have_no_pattern_type() -> None:
    acl_filter = i8(2) + s("orders") + s("User:alice") + s(None) + i8(1) + i8(1)
    req = legacy.decode_request(29, 0, acl_filter)
    assert (req.resource_type_filter, req.resource_name_filter, req.pattern_type_filter) == (2, "orders", 3)
    assert (req.principal_filter, req.host_filter, req.operation, req.permission_type) == (
        "User:alice",
        None,
        1,
        1,
    )
    creation = i8(2) + s("orders") + s("User:alice") + s("*") + i8(3) + i8(3)
    created = legacy.decode_request(30, 0, i32(1) + creation)
    assert [(c.resource_name, c.principal, c.operation) for c in created.creations] == [
        ("orders", "User:alice", 3)
    ]
    assert [f.resource_name_filter for f in legacy.decode_request(31, 0, i32(1) + acl_filter).filters] == [
        "orders"
    ]
    entry = {"principal": "User:alice", "host": "*", "operation": 3, "permission_type": 3}
    described = legacy.encode_response(
        29,
        0,
        {
            "throttle_time": 0,
            "error_code": 0,
            "error_message": None,
            "resources": [
                {"resource_type": 2, "resource_name": "orders", "pattern_type": 3, "acls": [entry]}
            ],
        },
    )
    entry_bytes = s("User:alice") + s("*") + i8(3) + i8(3)
    assert described == i32(0) + i16(0) + s(None) + i32(1) + i8(2) + s("orders") + i32(1) + entry_bytes
    deleted = legacy.encode_response(
        31,
        0,
        {
            "throttle_time": 0,
            "filter_results": [
                {
                    "error_code": 0,
                    "error_message": None,
                    "matching_acls": [
                        {"error_code": 0, "error_message": None, "resource_type": 2, "resource_name": "orders",
                         "pattern_type": 3, **entry}
                    ],
                }
            ],
        },
    )  # fmt: skip
    assert deleted == (
        i32(0) + i32(1) + i16(0) + s(None) + i32(1) + i16(0) + s(None) + i8(2) + s("orders") + entry_bytes
    )
    assert legacy.encode_response(
        30, 0, {"throttle_time": 0, "results": [{"error_code": 0, "error_message": None}]}
    ) == (i32(0) + i32(1) + i16(0) + s(None))
