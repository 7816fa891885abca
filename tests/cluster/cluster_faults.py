"""Helpers for the fault-injection scenarios: a BrookCluster with short failure timeouts, topics, acknowledged
produce and full read-back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookCluster

# short enough for tests, long enough for a busy 2-core machine
FAST_FAILURE = {
    "zookeeper.session.timeout.ms": "4000",
    "replica.lag.time.max.ms": "4000",
    "offsets.topic.num.partitions": "3",
}
QUIET = {"log_level": 3}


def cluster_on(zookeeper: str | None, tmp_path: Path, size: int = 3, **overrides: str) -> BrookCluster:
    return BrookCluster(
        size, zookeeper=zookeeper, data_dir=tmp_path / "cluster", overrides={**FAST_FAILURE, **overrides}
    )


def create_topic(cluster: BrookCluster, name: str, min_isr: int = 2, **configs: str) -> dict[str, Any]:
    """One partition on all three brokers; waits until every replica is in the ISR and returns the
    partition's state (leader, leader_epoch, isr). The broker picks the replicas' order."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
    topic = NewTopic(name, 1, 3, config={"min.insync.replicas": str(min_isr), **configs})
    admin.create_topics([topic])[name].result(30)
    return cluster.wait_until(
        lambda: (s := cluster.partition_state(name, 0)) and len(s["isr"]) == 3 and s, 30, f"{name}: full ISR"
    )


def new_producer(cluster: BrookCluster, **config: Any) -> Producer:
    return Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 30_000,
            **QUIET,
            **config,
        }
    )


def produce(
    cluster: BrookCluster, topic: str, values: list[bytes], timeout_s: float = 45.0, **config: Any
) -> list[tuple[int, bytes]]:
    """Produce to partition 0 and return (offset, value) of every record, failing unless all are acknowledged."""
    producer = new_producer(cluster, **config)
    acked: list[tuple[int, bytes]] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Any) -> None:
        if err is None:
            acked.append((msg.offset(), msg.value()))
        else:
            errors.append(err)

    for value in values:
        producer.produce(topic, value, partition=0, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(timeout_s) == 0, "records still in flight"
    assert not errors, errors[:3]
    return sorted(acked)


def read_partition(
    bootstrap: str, topic: str, partition: int = 0, timeout_s: float = 30.0
) -> list[tuple[int, bytes]]:
    """(offset, value) of every record from offset 0 up to the high watermark."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "fault-check",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            **QUIET,
        }
    )
    tp = TopicPartition(topic, partition, 0)
    try:
        end = consumer.get_watermark_offsets(tp, timeout=timeout_s)[1]
        got: list[tuple[int, bytes]] = []
        if end == 0:
            return got
        consumer.assign([tp])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is None:
                got.append((msg.offset(), msg.value()))
            elif msg.error().code() != KafkaError._PARTITION_EOF:
                continue
            if (got and got[-1][0] + 1 >= end) or (msg.error() is not None and msg.offset() >= end):
                return got
        raise AssertionError(f"read {len(got)} records of {topic}-{partition}, high watermark {end}")
    finally:
        consumer.close()


def log_bytes(cluster: BrookCluster, node_id: int, topic: str, partition: int = 0) -> bytes:
    directory = cluster.brokers[node_id].data_dir / f"{topic}-{partition}"
    return b"".join(p.read_bytes() for p in sorted(directory.glob("*.log")))
