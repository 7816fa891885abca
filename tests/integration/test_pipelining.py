"""Many requests in flight on one connection: answered in order, also when the client reads slowly."""

from __future__ import annotations

import struct
import time

from confluent_kafka import Producer
from kio.serial import entity_reader

from brook.broker.produce_validation import INLINE_VALIDATION_BYTES
from brook.protocol import codec
from brook.testing.batches import make_batch
from tests.integration.raw_client import RawClient, produce_body


def _correlation_ids(raw: RawClient, count: int) -> list[int]:
    return [struct.unpack_from(">i", raw.read_frame())[0] for _ in range(count)]


def test_pipelined_requests_beyond_the_per_connection_queue_keep_their_order(kafka_broker):
    raw = RawClient(kafka_broker.bootstrap)
    frames = [raw.frame(3, 4, {"topics": []}) for _ in range(300)]  # more than the 64 queued per connection
    raw.send_raw(b"".join(data for _, data in frames))
    assert _correlation_ids(raw, len(frames)) == [cid for cid, _ in frames]
    raw.close()


def test_pipelined_produces_append_in_the_order_they_arrived(kafka_broker):
    """The first Produce is too big to validate on the event loop (a worker thread checks it); the small ones
    after it could be appended at once, but must not overtake it: offsets follow arrival order."""
    raw = RawClient(kafka_broker.bootstrap)
    raw.request(19, 5, {"topics": [{"name": "ordered", "num_partitions": 1, "replication_factor": 1}]})
    big = make_batch([(b"big-%d" % i, b"x" * 1000) for i in range(INLINE_VALIDATION_BYTES // 1000 + 30)])
    assert len(big) > INLINE_VALIDATION_BYTES
    batches = [big, *(make_batch([(b"small-%d" % i, b"v")]) for i in range(8))]
    frames = [raw.frame(0, 9, produce_body("ordered", 0, bytes(batch))) for batch in batches]
    raw.send_raw(b"".join(data for _, data in frames))
    offsets = []
    for correlation_id, _ in frames:
        response = raw.read_frame()
        assert struct.unpack_from(">i", response)[0] == correlation_id
        entity, _ = entity_reader(codec.response_class(0, 9))(response, 5)
        (partition,) = entity.responses[0].partition_responses
        assert partition.error_code == 0
        offsets.append(partition.base_offset)
    big_count = INLINE_VALIDATION_BYTES // 1000 + 30
    assert offsets == [0, *range(big_count, big_count + 8)]
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
