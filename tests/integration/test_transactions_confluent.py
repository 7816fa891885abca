"""Transactions with confluent-kafka (librdkafka) against a real brook: the transaction coordinator, markers
written to every partition, read_committed visibility, fencing of a zombie producer."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookProcess
from tests.integration.helpers import read_values, wait_until


def _create(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(20)


def _producer(bootstrap: str, transactional_id: str, **extra: Any) -> Producer:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, **extra})
    producer.init_transactions(30)
    return producer


def _committed_end(bootstrap: str, topic: str, partition: int) -> int:
    """The read_committed end of a partition: the last stable offset."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "lso-probe", "isolation.level": "read_committed"}
    )
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        consumer.close()


def test_commit_is_visible_and_abort_is_not(kafka_broker):
    bootstrap = kafka_broker.bootstrap
    _create(bootstrap, "txn-out", partitions=3)
    producer = _producer(bootstrap, "txn-commit-abort")
    producer.begin_transaction()
    for i in range(30):
        producer.produce("txn-out", value=b"committed-%d" % i, partition=i % 3)
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(30):
        producer.produce("txn-out", value=b"aborted-%d" % i, partition=i % 3)
    producer.flush(30)
    producer.abort_transaction(30)
    producer.begin_transaction()
    for i in range(30, 40):
        producer.produce("txn-out", value=b"committed-%d" % i, partition=i % 3)
    producer.commit_transaction(30)

    committed = read_values(bootstrap, "txn-out", 3, "read_committed", until=40)
    assert sorted(committed) == sorted(b"committed-%d" % i for i in range(40))
    uncommitted = read_values(bootstrap, "txn-out", 3, "read_uncommitted", until=70)
    assert sorted(uncommitted) == sorted(
        [b"committed-%d" % i for i in range(40)] + [b"aborted-%d" % i for i in range(30)]
    )


def test_open_transaction_is_invisible_until_commit(kafka_broker):
    bootstrap = kafka_broker.bootstrap
    _create(bootstrap, "txn-open")
    producer = _producer(bootstrap, "txn-open-1")
    producer.begin_transaction()
    for i in range(5):
        producer.produce("txn-open", value=b"v%d" % i)
    producer.flush(30)
    assert read_values(bootstrap, "txn-open", 1, "read_uncommitted", until=5) == [
        b"v%d" % i for i in range(5)
    ]
    assert read_values(bootstrap, "txn-open", 1, "read_committed", until=0, timeout_s=3) == []
    assert _committed_end(bootstrap, "txn-open", 0) == 0
    producer.commit_transaction(30)
    assert read_values(bootstrap, "txn-open", 1, "read_committed", until=5) == [b"v%d" % i for i in range(5)]
    assert _committed_end(bootstrap, "txn-open", 0) == 6  # five records and the commit marker


def test_new_instance_fences_the_zombie_and_aborts_its_transaction(kafka_broker):
    bootstrap = kafka_broker.bootstrap
    _create(bootstrap, "txn-zombie")
    zombie = _producer(bootstrap, "txn-zombie-id")
    zombie.begin_transaction()
    zombie.produce("txn-zombie", value=b"zombie-open")
    zombie.flush(30)
    successor = _producer(bootstrap, "txn-zombie-id")  # fences the zombie, aborting its transaction
    successor.begin_transaction()
    successor.produce("txn-zombie", value=b"successor")
    successor.commit_transaction(30)
    zombie.produce("txn-zombie", value=b"zombie-late")
    with pytest.raises(KafkaException) as failure:
        zombie.commit_transaction(30)
    assert failure.value.args[0].code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    )
    assert read_values(bootstrap, "txn-zombie", 1, "read_committed", until=1) == [b"successor"]


def test_consume_transform_produce_commits_offsets_with_the_transaction(kafka_broker):
    bootstrap = kafka_broker.bootstrap
    _create(bootstrap, "ctp-in")
    _create(bootstrap, "ctp-out")
    plain = Producer({"bootstrap.servers": bootstrap})
    for i in range(20):
        plain.produce("ctp-in", value=b"in-%d" % i)
    assert plain.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "ctp-group",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition("ctp-in", 0, 0)])
    producer = _producer(bootstrap, "ctp-transformer")
    seen: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(seen) < 10 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            seen.append(msg.value())
    assert len(seen) == 10
    # the first ten: transformed, then aborted with their offsets
    producer.begin_transaction()
    for value in seen:
        producer.produce("ctp-out", value=value.upper())
    producer.send_offsets_to_transaction(
        [TopicPartition("ctp-in", 0, 10)], consumer.consumer_group_metadata(), 30
    )
    producer.abort_transaction(30)
    assert consumer.committed([TopicPartition("ctp-in", 0)], timeout=10)[0].offset < 0
    # again, committed this time
    producer.begin_transaction()
    for value in seen:
        producer.produce("ctp-out", value=value.upper())
    producer.send_offsets_to_transaction(
        [TopicPartition("ctp-in", 0, 10)], consumer.consumer_group_metadata(), 30
    )
    producer.commit_transaction(30)
    deadline = time.monotonic() + 30
    offset = -1
    while time.monotonic() < deadline:
        offset = consumer.committed([TopicPartition("ctp-in", 0)], timeout=10)[0].offset
        if offset == 10:
            break
        time.sleep(0.2)
    assert offset == 10
    consumer.close()
    assert read_values(bootstrap, "ctp-out", 1, "read_committed", until=10) == [
        b"IN-%d" % i for i in range(10)
    ]


def test_coordinator_aborts_a_transaction_that_outlives_its_timeout(tmp_path):
    broker = BrookProcess(
        data_dir=tmp_path,
        overrides={
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
            "transaction.max.timeout.ms": "60000",
        },
    ).start()
    try:
        bootstrap = broker.bootstrap
        _create(bootstrap, "txn-timeout")
        with pytest.raises(KafkaException) as refused:
            _producer(bootstrap, "txn-too-long", **{"transaction.timeout.ms": 60001})
        assert refused.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT
        slow = _producer(bootstrap, "txn-slow", **{"transaction.timeout.ms": 1000})
        slow.begin_transaction()
        slow.produce("txn-timeout", value=b"never-committed")
        slow.flush(30)
        # the coordinator aborts it: the ABORT marker moves the last stable offset past the record
        wait_until(lambda: _committed_end(bootstrap, "txn-timeout", 0) == 2, timeout_s=30, interval_s=0.2)
        with pytest.raises(KafkaException):
            slow.commit_transaction(30)
        assert read_values(bootstrap, "txn-timeout", 1, "read_committed", until=0, timeout_s=3) == []
    finally:
        broker.stop()


def test_open_transaction_survives_a_broker_restart_and_commits(tmp_path):
    broker = BrookProcess(data_dir=tmp_path).start()
    try:
        bootstrap = broker.bootstrap
        _create(bootstrap, "txn-restart")
        producer = _producer(bootstrap, "txn-restart-id")
        producer.begin_transaction()
        for i in range(10):
            producer.produce("txn-restart", value=b"r%d" % i)
        producer.flush(30)
        broker.stop()
        broker.start()  # same port: the producer reconnects; the coordinator reloads Ongoing from its log
        producer.commit_transaction(60)
        assert read_values(bootstrap, "txn-restart", 1, "read_committed", until=10) == [
            b"r%d" % i for i in range(10)
        ]
        again = _producer(bootstrap, "txn-restart-id")  # epoch bumped from the reloaded state
        again.begin_transaction()
        again.produce("txn-restart", value=b"after")
        again.commit_transaction(30)
        assert read_values(bootstrap, "txn-restart", 1, "read_committed", until=11)[-1] == b"after"
    finally:
        broker.stop()
