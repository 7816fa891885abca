"""`brook topic reassign` / `brook topic reassignments` on three brokers, and the replication throttle holding a
move back long enough to see it listed and to cancel it (Kafka's leader/follower.replication.throttled.*)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from tests.cluster.cluster_faults import QUIET, cluster_on
from tests.integration.cli_helpers import Brook

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

RECORDS = 400
VALUE = b"x" * 2000


class _Bootstrap:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap


def _fill(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", **QUIET})
    for i in range(RECORDS):
        producer.produce(topic, VALUE + b"%d" % i, b"k%d" % i, partition=0)
    assert producer.flush(30) == 0


def _read_all(bootstrap: str, topic: str) -> list[tuple[int, bytes, bytes]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}", **QUIET})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + 60
    while len(got) < RECORDS and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append((message.offset(), message.key(), message.value()))
    consumer.close()
    return got


def _throttle(admin: AdminClient, topic: str, rate: int) -> None:
    """Throttle every replica of `topic`, leader and follower side, at `rate` bytes/s on every broker."""
    entries = [
        ConfigEntry(name, "*", incremental_operation=AlterConfigOpType.SET)
        for name in ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")
    ]
    admin.incremental_alter_configs([ConfigResource("topic", topic, incremental_configs=entries)])[
        ConfigResource("topic", topic)
    ].result(30)
    for broker in ("0", "1", "2"):
        rates = [
            ConfigEntry(name, str(rate), incremental_operation=AlterConfigOpType.SET)
            for name in ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
        ]
        resource = ConfigResource("broker", broker, incremental_configs=rates)
        admin.incremental_alter_configs([resource])[ConfigResource("broker", broker)].result(30)


def test_brook_moves_lists_and_cancels_replica_moves(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
        topics = [
            NewTopic("moved", 1, replica_assignment=[[0]]),
            NewTopic("held", 1, replica_assignment=[[0]]),
        ]
        for future in admin.create_topics(topics).values():
            future.result(30)
        for name in ("moved", "held"):
            _fill(cluster.bootstrap, name)
        brook = Brook(_Bootstrap(cluster.broker(0).bootstrap))

        # a plain move, waited for: replicas, leader and records as asked
        done = brook.json("topic", "reassign", "moved", "-p", "0", "--replicas", "1,2", "--wait", "60")
        assert done == [{"partition": "moved-0", "status": "OK", "error": None}]
        state = cluster.partition_state("moved", 0)
        assert cluster._json("/brokers/topics/moved")["partitions"] == {"0": [1, 2]}
        assert state["leader"] in (1, 2)
        assert sorted(state["isr"]) == [1, 2]
        assert _read_all(cluster.bootstrap, "moved") == [
            (i, b"k%d" % i, VALUE + b"%d" % i) for i in range(RECORDS)
        ]

        # Kafka's errors, as the CLI reports them (exit 1)
        refused = brook.run("topic", "reassign", "moved", "-p", "0", "--cancel", expect=1)
        assert "NO_REASSIGNMENT_IN_PROGRESS" in refused.stderr
        refused = brook.run("topic", "reassign", "moved", "-p", "0", "--replicas", "1,9", expect=1)
        assert "INVALID_REPLICA_ASSIGNMENT" in refused.stderr

        # 800 kB at 2 kB/s: the move cannot end during this test, so it is listed until cancelled
        _throttle(admin, "held", 2000)
        brook.run("topic", "reassign", "held", "-p", "0", "--replicas", "1")
        listed = brook.json("topic", "reassignments")
        assert listed == [
            {"topic": "held", "partition": 0, "replicas": [1, 0], "adding": [1], "removing": [0]}
        ]
        assert brook.json("topic", "reassignments", "moved") == []
        # describe shows the move as kafka-topics.sh does: the factor without the replicas being added
        described = brook.json("topic", "describe", "held")
        assert described["replication_factor"] == 1
        assert described["partitions"][0]["replicas"] == [1, 0]
        assert described["partitions"][0]["adding_replicas"] == [1]
        assert described["partitions"][0]["removing_replicas"] == [0]
        assert "adding_replicas" not in brook.json("topic", "describe", "moved")["partitions"][0]
        time.sleep(3)  # the throttle holds: still in progress after a few seconds
        assert brook.json("topic", "reassignments", "held") == listed
        brook.run("topic", "reassign", "held", "-p", "0", "--cancel", "--wait", "30")
        assert brook.json("topic", "reassignments") == []
        assert cluster._json("/brokers/topics/held")["partitions"] == {"0": [0]}
        assert cluster.partition_state("held", 0)["leader"] == 0
        assert _read_all(cluster.bootstrap, "held") == [
            (i, b"k%d" % i, VALUE + b"%d" % i) for i in range(RECORDS)
        ]
