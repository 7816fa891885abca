"""confluent-kafka (librdkafka) against a real brook: produce, consume, admin."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.helpers import consume_assigned, produce_all


def test_roundtrip_keeps_keys_values_headers_timestamps_and_order(kafka_broker):
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 5})
    sent = []
    for i in range(200):
        ts = 1_700_000_000_000 + i
        producer.produce(
            "roundtrip",
            key=f"k{i}".encode(),
            value=f"value-{i}".encode() * (i % 7 + 1),
            headers=[("h", f"{i}".encode())],
            timestamp=ts,
        )
        sent.append((f"k{i}".encode(), f"value-{i}".encode() * (i % 7 + 1), ts))
    assert producer.flush(30) == 0

    messages = consume_assigned(kafka_broker.bootstrap, "roundtrip", 0, 200)
    assert [m.offset() for m in messages] == list(range(200))
    assert [(m.key(), m.value(), m.timestamp()[1]) for m in messages] == sent
    assert [m.headers() for m in messages] == [[("h", f"{i}".encode())] for i in range(200)]


def test_delivery_reports_carry_consecutive_offsets(kafka_broker):
    reports = produce_all(kafka_broker.bootstrap, "offsets", [(None, b"x%d" % i) for i in range(50)])
    assert sorted(r.offset() for r in reports) == list(range(50))


def test_consume_from_middle_offset(kafka_broker):
    produce_all(kafka_broker.bootstrap, "middle", [(b"k", b"%d" % i) for i in range(30)])
    messages = consume_assigned(kafka_broker.bootstrap, "middle", 0, 10, offset=20)
    assert [m.value() for m in messages] == [b"%d" % i for i in range(20, 30)]


def test_admin_create_topic_with_partitions_and_keyed_spread(kafka_broker):
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    futures = admin.create_topics([NewTopic("six", num_partitions=6, replication_factor=1)])
    futures["six"].result(10)
    metadata = admin.list_topics(timeout=10)
    assert sorted(metadata.topics["six"].partitions) == list(range(6))

    reports = produce_all(kafka_broker.bootstrap, "six", [(b"key-%d" % i, b"v%d" % i) for i in range(60)])
    by_partition: dict[int, list[int]] = {}
    for r in reports:
        by_partition.setdefault(r.partition(), []).append(r.offset())
    assert len(by_partition) > 1
    for offsets in by_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))


def test_offsets_for_times(kafka_broker):
    base = 1_600_000_000_000
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for i in range(10):
        producer.produce("times", value=b"%d" % i, timestamp=base + i * 1000)
        producer.flush(10)
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": "t"})
    try:
        found = consumer.offsets_for_times([TopicPartition("times", 0, base + 4500)], timeout=10)
        assert found[0].offset == 5
        beyond = consumer.offsets_for_times([TopicPartition("times", 0, base + 99_000)], timeout=10)
        assert beyond[0].offset == -1
        low, high = consumer.get_watermark_offsets(TopicPartition("times", 0), timeout=10)
        assert (low, high) == (0, 10)
    finally:
        consumer.close()


def test_acks_all_and_acks_zero(kafka_broker):
    produce_all(kafka_broker.bootstrap, "acks", [(None, b"all-%d" % i) for i in range(10)], acks="all")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "acks": 0})
    for i in range(10):
        producer.produce("acks", value=b"zero-%d" % i)
    assert producer.flush(10) == 0
    deadline = time.monotonic() + 10
    messages = []
    while time.monotonic() < deadline and len(messages) < 20:
        messages = consume_assigned(kafka_broker.bootstrap, "acks", 0, 20, timeout_s=3)
    assert [m.value() for m in messages] == [b"all-%d" % i for i in range(10)] + [
        b"zero-%d" % i for i in range(10)
    ]
