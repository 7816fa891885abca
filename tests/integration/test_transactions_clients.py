"""Transactions with aiokafka and kafkajs against a real brook (confluent-kafka: test_transactions_confluent.py)."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ProducerFenced

from tests.integration.helpers import run_kafkajs


async def _values(bootstrap: str, topic: str, isolation: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got: list[bytes] = []
        for _ in range(20):
            batch = await consumer.getmany(tp, timeout_ms=500)
            got.extend(m.value for m in batch.get(tp, []))
            if len(got) >= expected and not batch:
                break
        return got
    finally:
        await consumer.stop()


async def test_aiokafka_transactions_commit_abort_and_fencing(kafka_broker):
    bootstrap = kafka_broker.bootstrap
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("aio-txn", 1, 1), NewTopic("aio-txn-in", 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="aio-txn-1")
    await producer.start()
    try:
        async with producer.transaction():
            for i in range(5):
                await producer.send("aio-txn", b"c%d" % i)
        await producer.begin_transaction()
        await producer.send_and_wait("aio-txn", b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send("aio-txn", b"offsets")
            await producer.send_offsets_to_transaction({TopicPartition("aio-txn-in", 0): 7}, "aio-group")
        # a second instance with the same id fences this one
        successor = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="aio-txn-1")
        await successor.start()
        try:
            async with successor.transaction():
                await successor.send("aio-txn", b"successor")
            with pytest.raises(ProducerFenced):
                async with producer.transaction():
                    await producer.send("aio-txn", b"zombie")
        finally:
            await successor.stop()
    finally:
        await producer.stop()

    assert await _values(bootstrap, "aio-txn", "read_committed", 7) == [
        b"c0",
        b"c1",
        b"c2",
        b"c3",
        b"c4",
        b"offsets",
        b"successor",
    ]
    everything = await _values(bootstrap, "aio-txn", "read_uncommitted", 8)
    assert b"aborted" in everything
    assert b"zombie" not in await _values(bootstrap, "aio-txn", "read_committed", 7)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="aio-group", enable_auto_commit=False)
    await consumer.start()
    try:
        assert await consumer.committed(TopicPartition("aio-txn-in", 0)) == 7
    finally:
        await consumer.stop()


def test_kafkajs_transactions(kafka_broker):
    report = run_kafkajs("kafkajs_transactions.js", kafka_broker.bootstrap, "kjs-txn")
    assert sorted(report["committedValues"]) == sorted(["A", "B"] + [f"committed-{i}" for i in range(4)])
    assert sorted(report["allValues"]) == sorted(
        ["A", "B"] + [f"committed-{i}" for i in range(4)] + [f"aborted-{i}" for i in range(4)]
    )
    partitions = report["offsets"][0]["partitions"]
    assert [(p["partition"], p["offset"]) for p in partitions] == [(0, "2")]
