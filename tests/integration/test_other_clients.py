"""kafka-python, aiokafka and Debian's kcat (librdkafka 2.0.x) against a real brook."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition

from tests.integration.helpers import consume_assigned, produce_all

CODECS = ["gzip", "snappy", "lz4", "zstd"]


def test_kafka_python_roundtrip_with_idempotence(kafka_broker):
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, enable_idempotence=True, acks="all")
    futures = [
        producer.send(
            "kp",
            key=b"k%d" % i,
            value=b"v%d" % i,
            headers=[("n", b"%d" % i)],
            timestamp_ms=1_700_000_000_000 + i,
        )
        for i in range(100)
    ]
    producer.flush(30)
    offsets = [f.get(10).offset for f in futures]
    assert offsets == list(range(100))
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000
    )
    tp = KTopicPartition("kp", 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = []
    for message in consumer:
        got.append(message)
        if len(got) == 100:
            break
    consumer.close()
    assert [(m.offset, m.key, m.value, m.timestamp) for m in got] == [
        (i, b"k%d" % i, b"v%d" % i, 1_700_000_000_000 + i) for i in range(100)
    ]
    assert [m.headers for m in got] == [[("n", b"%d" % i)] for i in range(100)]


@pytest.mark.parametrize("codec", ["gzip", "lz4", "zstd"])
def test_kafka_python_compressed(kafka_broker, codec):
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, compression_type=codec, linger_ms=20)
    for i in range(50):
        producer.send(f"kp-{codec}", value=b"payload-%d" % i * 10)
    producer.flush(30)
    producer.close()
    messages = consume_assigned(kafka_broker.bootstrap, f"kp-{codec}", 0, 50)
    assert [m.value() for m in messages] == [b"payload-%d" % i * 10 for i in range(50)]


async def test_aiokafka_roundtrip(kafka_broker):
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        results = [await producer.send_and_wait("aio", key=b"a%d" % i, value=b"b%d" % i) for i in range(30)]
    finally:
        await producer.stop()
    assert [r.offset for r in results] == list(range(30))

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_broker.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        from aiokafka import TopicPartition as ATopicPartition

        tp = ATopicPartition("aio", 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got = []
        while len(got) < 30:
            batch = await consumer.getmany(tp, timeout_ms=5000)
            assert batch, "no data within 5 s"
            got.extend(batch[tp])
    finally:
        await consumer.stop()
    assert [(m.offset, m.key, m.value) for m in got] == [(i, b"a%d" % i, b"b%d" % i) for i in range(30)]


@pytest.fixture(scope="module")
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed: `make test` installs Debian's kcat")
    return path


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_produce_and_consume_with_keys_headers_and_codec(kafka_broker, kcat, codec):
    topic = f"kcat-{codec}"
    lines = "".join(f"key{i}:value{i}\n" for i in range(20))
    subprocess.run(
        [kcat, "-b", kafka_broker.bootstrap, "-t", topic, "-P", "-K:", "-z", codec, "-H", "origin=kcat"],
        input=lines,
        text=True,
        check=True,
        timeout=30,
    )
    out = subprocess.run(
        [
            kcat,
            "-b",
            kafka_broker.bootstrap,
            "-t",
            topic,
            "-C",
            "-e",
            "-o",
            "beginning",
            "-f",
            "%k|%s|%o|%h\n",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert out.splitlines() == [f"key{i}|value{i}|{i}|origin=kcat" for i in range(20)]


def test_kcat_reads_what_confluent_kafka_wrote(kafka_broker, kcat):
    produce_all(
        kafka_broker.bootstrap,
        "cross",
        [(b"k%d" % i, b"v%d" % i) for i in range(10)],
        **{"compression.type": "snappy"},
    )
    out = subprocess.run(
        [kcat, "-b", kafka_broker.bootstrap, "-t", "cross", "-C", "-e", "-f", "%k=%s\n"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert out.splitlines() == [f"k{i}=v{i}" for i in range(10)]


def test_kafka_python_admin(kafka_broker):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        admin.create_topics([NewTopic("kp-admin", 2, 1, topic_configs={"retention.ms": "1000"})])
        assert "kp-admin" in admin.list_topics()
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin")])
        assert described["topic"]["kp-admin"]["retention.ms"]["value"] == "1000"
        admin.create_partitions({"kp-admin": NewPartitions(4)})
        cluster = admin.describe_cluster()
        assert [b["broker_id"] for b in cluster["brokers"]] == [0]
        admin.delete_topics(["kp-admin"])
        assert "kp-admin" not in admin.list_topics()
    finally:
        admin.close()
