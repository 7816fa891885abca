"""Raw transactional frames for log-side tests: a producer id, transactional batches and
WriteTxnMarkers, sent as the transaction coordinator would send them."""

from __future__ import annotations

import struct
from typing import Any

from brook.records.records import Record, build_batch
from tests.integration.raw_client import RawClient, produce_body

TRANSACTIONAL = 0x10


def init_producer_id(raw: RawClient) -> tuple[int, int]:
    """A fresh (producer_id, epoch) from InitProducerId without a transactional id."""
    body = {"transactional_id": None, "transaction_timeout": 60000, "producer_id": -1, "producer_epoch": -1}
    response = raw.request(22, 4, body)
    assert response.error_code == 0, response
    return response.producer_id, response.producer_epoch


def txn_batch(producer_id: int, epoch: int, sequence: int, values: list[bytes], *, now_ms: int = 0) -> bytes:
    """One transactional batch (attributes 0x10) of `values` keyed k<i>, at base offset 0."""
    records = [Record(i, now_ms, b"k%d" % i, v) for i, v in enumerate(values)]
    return bytes(
        build_batch(
            records,
            base_offset=0,
            attributes=TRANSACTIONAL,
            producer_id=producer_id,
            producer_epoch=epoch,
            base_sequence=sequence,
        )
    )


def produce_txn(
    raw: RawClient,
    topic: str,
    partition: int,
    producer_id: int,
    epoch: int,
    sequence: int,
    values: list[bytes],
) -> Any:
    """Produce one transactional batch with acks=all; returns the partition's response."""
    import time

    batch = txn_batch(producer_id, epoch, sequence, values, now_ms=int(time.time() * 1000))
    response = raw.request(0, 8, produce_body(topic, partition, batch, acks=-1))
    return response.responses[0].partition_responses[0]


def write_markers(
    raw: RawClient,
    producer_id: int,
    epoch: int,
    commit: bool,
    partitions: dict[str, list[int]],
    *,
    coordinator_epoch: int = 0,
    version: int = 1,
) -> dict[tuple[str, int], int]:
    """WriteTxnMarkers with one marker; the error code of each partition."""
    body = {
        "markers": [
            {
                "producer_id": producer_id,
                "producer_epoch": epoch,
                "transaction_result": commit,
                "topics": [{"name": t, "partition_indexes": ps} for t, ps in partitions.items()],
                "coordinator_epoch": coordinator_epoch,
            }
        ]
    }
    response = raw.request(27, version, body)
    assert [m.producer_id for m in response.markers] == [producer_id]
    return {
        (t.name, p.partition_index): p.error_code for t in response.markers[0].topics for p in t.partitions
    }


def list_offset(
    raw: RawClient, topic: str, partition: int, *, isolation_level: int, timestamp: int = -1
) -> int:
    body = {
        "replica_id": -1,
        "isolation_level": isolation_level,
        "topics": [{"name": topic, "partitions": [{"partition_index": partition, "timestamp": timestamp}]}],
    }
    entry = raw.request(2, 5, body).topics[0].partitions[0]
    assert entry.error_code == 0, entry
    return entry.offset


def describe_transaction_error(raw: RawClient, transactional_id: str) -> int:
    """DescribeTransactions' error code read from the frame: kio cannot read the -1 start time of an unknown or
    refused id (Kafka's clients read it as an int64)."""
    correlation_id, data = raw.frame(65, 0, {"transactional_ids": [transactional_id]})
    raw.send_raw(data)
    response = raw.read_frame()
    assert struct.unpack_from(">i", response)[0] == correlation_id
    # header: correlation id, no tags; body: throttle_time int32, compact array length (1 entry: 2)
    assert response[9] == 2
    return int(struct.unpack_from(">h", response, 10)[0])
