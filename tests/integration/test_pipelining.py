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


def test_parked_requests_do_not_use_up_queued_max_requests(tmp_path):
    """Long-poll fetches parked in the broker must not stop it from reading other clients' requests."""
    from brook.testing import BrookProcess

    with BrookProcess(data_dir=tmp_path / "d", overrides={"queued.max.requests": "2"}) as broker:
        setup = RawClient(broker.bootstrap)
        setup.request(
            19,
            7,
            {"topics": [{"name": "parked", "num_partitions": 1, "replication_factor": 1}], "timeout": 5000},
        )
        setup.close()
        fetch = {
            "replica_id": -1,
            "max_wait": 5000,
            "min_bytes": 1,
            "max_bytes": 1 << 20,
            "topics": [
                {
                    "topic": "parked",
                    "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}],
                }
            ],
        }
        parked = [RawClient(broker.bootstrap) for _ in range(4)]
        other = RawClient(broker.bootstrap)
        try:
            for client in parked:
                client.send_raw(client.frame(1, 12, fetch)[1])
            time.sleep(0.3)  # gives the four fetches time to arrive and park (they wait up to 5 s)
            started = time.monotonic()
            response = other.request(3, 9, {"topics": None})
            assert time.monotonic() - started < 2  # answered while the four fetches are still parked
            assert [t.name for t in response.topics] == ["parked"]
        finally:
            for client in [*parked, other]:
                client.close()
