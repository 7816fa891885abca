"""Many requests in flight on one connection: answered in order, also when the client reads slowly."""

from __future__ import annotations

import struct
import time

from confluent_kafka import Producer

from tests.integration.raw_client import RawClient


def _correlation_ids(raw: RawClient, count: int) -> list[int]:
    return [struct.unpack_from(">i", raw.read_frame())[0] for _ in range(count)]


def test_pipelined_requests_beyond_the_per_connection_queue_keep_their_order(kafka_broker):
    raw = RawClient(kafka_broker.bootstrap)
    frames = [raw.frame(3, 4, {"topics": []}) for _ in range(300)]  # more than the 64 queued per connection
    raw.send_raw(b"".join(data for _, data in frames))
    assert _correlation_ids(raw, len(frames)) == [cid for cid, _ in frames]
    raw.close()


def test_slow_reader_gets_every_fetch_response_whole_and_in_order(kafka_broker):
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 5})
    for i in range(4000):
        producer.produce("slow", b"x" * 1000, partition=0, key=str(i).encode())
    assert producer.flush(30) == 0
    raw = RawClient(kafka_broker.bootstrap, timeout_s=30)
    fetch = {
        "replica_id": -1,
        "max_wait": 0,
        "min_bytes": 1,
        "max_bytes": 8 * 1024 * 1024,
        "topics": [
            {
                "topic": "slow",
                "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 8 << 20}],
            }
        ],
    }
    frames = [raw.frame(1, 11, fetch) for _ in range(40)]  # ~4 MB each: far past the socket buffers
    raw.send_raw(b"".join(data for _, data in frames))
    time.sleep(1.0)  # the broker's writes back up and it must wait, not buffer without bound or drop
    responses = [raw.read_frame() for _ in frames]
    assert [struct.unpack_from(">i", r)[0] for r in responses] == [cid for cid, _ in frames]
    assert len({len(r) for r in responses}) == 1  # the same records every time
    assert len(responses[0]) > 4000 * 1000
    raw.close()
