"""The hand-written Fetch response encoder matches kio byte for byte in every advertised version."""

import pytest

from brook.protocol import codec
from brook.protocol.fetch_response import FetchPartitionData, encode_fetch_response


@pytest.mark.parametrize("version", range(4, 13))
@pytest.mark.parametrize("with_error", [False, True])
def test_matches_kio(version: int, with_error: bool) -> None:
    records = [b"\x00" * 70, b"\x01" * 30]
    partitions = [
        FetchPartitionData(0, 0, 100, 100, 3, records, 100),
        FetchPartitionData(1, 1 if with_error else 0, 5, 5, 0, [], 0),
    ]
    ours = b"".join(encode_fetch_response(version, [("topic-a", partitions), ("b", [])], session_id=0))
    expected = codec.encode_body(
        codec.build(
            codec.response_class(1, version),
            {
                "throttle_time": 0,
                "error_code": 0,
                "session_id": 0,
                "responses": [
                    {
                        "topic": "topic-a",
                        "partitions": [
                            {
                                "partition_index": p.partition_index,
                                "error_code": p.error_code,
                                "high_watermark": p.high_watermark,
                                "last_stable_offset": p.last_stable_offset,
                                "log_start_offset": p.log_start_offset,
                                "aborted_transactions": None if p.error_code else [],
                                "preferred_read_replica": -1,
                                "records": b"".join(p.records),
                            }
                            for p in partitions
                        ],
                    },
                    {"topic": "b", "partitions": []},
                ],
            },
        )
    )
    assert ours == expected


def test_v12_diverging_epoch_is_a_tagged_field_kio_reads() -> None:
    from brook.protocol import codec
    from brook.protocol.fetch_response import FetchPartitionData, encode_fetch_response

    part = FetchPartitionData(0, 0, 7, 7, 0, [], 0, diverging_epoch=(3, 42))
    body = b"".join(encode_fetch_response(12, [("t", [part])]))
    decoded = codec.decode_response_body(1, 12, body, 0)
    diverging = decoded.responses[0].partitions[0].diverging_epoch
    assert (diverging.epoch, diverging.end_offset) == (3, 42)
    assert decoded.responses[0].partitions[0].high_watermark == 7
