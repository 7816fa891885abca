"""The hand-written Produce decoder and encoder agree with kio for every advertised version (3-9)."""

from __future__ import annotations

import pytest

from brook.protocol import codec
from brook.protocol.produce import (
    ProduceDecodeError,
    ProducePartitionResult,
    decode_produce_request,
    encode_produce_response,
)
from brook.testing.batches import make_batch

VERSIONS = range(3, 10)

REQUESTS = [
    {"transactional_id": None, "acks": 1, "timeout": 30_000, "topic_data": []},
    {
        "transactional_id": "tx-ü",
        "acks": -1,
        "timeout": 1_500,
        "topic_data": [
            {
                "name": "orders",
                "partition_data": [
                    {"index": 0, "records": bytes(make_batch([(b"k", b"v" * 300)]))},
                    {"index": 5, "records": None},
                    {"index": 2, "records": b""},
                ],
            },
            {"name": "t" * 200, "partition_data": [{"index": 1, "records": b"\x00" * 200}]},
        ],
    },
    {"transactional_id": None, "acks": 0, "timeout": 0, "topic_data": [{"name": "e", "partition_data": []}]},
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fields", REQUESTS, ids=["empty", "mixed", "acks0"])
def test_decoder_matches_kio_field_for_field(version: int, fields: dict) -> None:
    encoded = codec.encode_body(codec.build(codec.request_class(0, version), fields))
    prefix = b"HEAD"  # the decoder starts after the request header, at an offset into the frame
    expected = codec.decode_request_body(0, version, prefix + encoded, len(prefix))
    got = decode_produce_request(bytearray(prefix + encoded), len(prefix), version)
    assert got.transactional_id == expected.transactional_id
    assert got.acks == expected.acks
    assert got.timeout_ms == codec.to_ms(expected.timeout)
    assert len(got.topic_data) == len(expected.topic_data)
    for mine, theirs in zip(got.topic_data, expected.topic_data, strict=True):
        assert mine.name == theirs.name
        assert [p.index for p in mine.partition_data] == [p.index for p in theirs.partition_data]
        for p, q in zip(mine.partition_data, theirs.partition_data, strict=True):
            assert (None if p.records is None else bytes(p.records)) == q.records


def test_records_are_writable_views_into_the_frame() -> None:
    records = bytes(make_batch([(b"k", b"v")]))
    fields = {
        "acks": 1,
        "timeout": 10,
        "topic_data": [{"name": "t", "partition_data": [{"index": 0, "records": records}]}],
    }
    frame = bytearray(codec.encode_body(codec.build(codec.request_class(0, 7), fields)))
    view = decode_produce_request(frame, 0, 7).topic_data[0].partition_data[0].records
    assert view is not None
    view[0:8] = b"\x00\x00\x00\x00\x00\x00\x00\x2a"  # what assigning base offset 42 does
    assert frame.find(b"\x00\x00\x00\x00\x00\x00\x00\x2a") >= 0


@pytest.mark.parametrize("version", VERSIONS)
def test_truncated_request_is_a_decode_error(version: int) -> None:
    encoded = codec.encode_body(codec.build(codec.request_class(0, version), REQUESTS[1]))
    for cut in (1, 7, len(encoded) // 2, len(encoded) - 1):
        with pytest.raises((ProduceDecodeError, UnicodeDecodeError)):
            decode_produce_request(bytearray(encoded[:cut]), 0, version)


RESPONSES = [
    [],
    [
        (
            "orders",
            [
                ProducePartitionResult(0, 0, 1234, -1, 0),
                ProducePartitionResult(3, 6, -1, -1, -1, "This server is not the leader"),
                ProducePartitionResult(4, 0, 7, 1_700_000_000_123, 5),
            ],
        ),
        ("ü" * 3, [ProducePartitionResult(1, 3, -1, -1, -1, None)]),
    ],
    [
        (
            "t",
            [
                ProducePartitionResult(
                    0,
                    32,
                    -1,
                    -1,
                    -1,
                    "rejected",
                    record_errors=((0, "Timestamp 1 is out of range"), (2, None)),
                )
            ],
        )
    ],
    # one topic, one partition, no message: v9's packed path (names of 126 bytes and more take the general one)
    [("orders", [ProducePartitionResult(0, 0, 1234, -1, 0)])],
    [("o" * 126, [ProducePartitionResult(7, 19, -1, 1_700_000_000_123, 12)])],
    [("o" * 127, [ProducePartitionResult(2_000_000_000, 0, 2**40, -1, 2**33)])],
    [("ü" * 63, [ProducePartitionResult(1, 0, 5, -1, 0)])],
]
RESPONSE_IDS = ["empty", "mixed", "record-errors", "one", "name-126", "name-127", "name-utf8"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("throttle_ms", [0, 250])
@pytest.mark.parametrize("topics", RESPONSES, ids=RESPONSE_IDS)
def test_encoder_matches_kio_byte_for_byte(version: int, topics: list, throttle_ms: int) -> None:
    fields = {
        "throttle_time": throttle_ms,
        "responses": [
            {
                "name": name,
                "partition_responses": [
                    {
                        "index": p.index,
                        "error_code": p.error_code,
                        "base_offset": p.base_offset,
                        "log_append_time": p.log_append_time_ms,
                        "log_start_offset": p.log_start_offset,
                        "error_message": p.error_message,
                        "record_errors": [
                            {"batch_index": i, "batch_index_error_message": m} for i, m in p.record_errors
                        ],
                    }
                    for p in partitions
                ],
            }
            for name, partitions in topics
        ],
    }
    expected = codec.encode_body(codec.build(codec.response_class(0, version), fields))
    assert encode_produce_response(version, topics, throttle_time_ms=throttle_ms) == expected
