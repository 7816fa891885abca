"""Helpers for the consumer-group integration tests: topics, producing, and polling several consumers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def create_topics(bootstrap: str, partitions: int, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(10)


def produce(bootstrap: str, topic: str, partitions: int, per_partition: int, tag: str = "") -> set[bytes]:
    """`per_partition` records into each partition; returns the values (unique)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    values = set()
    for p in range(partitions):
        for i in range(per_partition):
            value = f"{topic}/{p}/{tag}{i}".encode()
            producer.produce(topic, value=value, partition=p)
            values.add(value)
    assert producer.flush(30) == 0
    return values


def consumer(bootstrap: str, group: str, **config: Any) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300,
            "topic.metadata.refresh.interval.ms": 1000,
            **config,
        }
    )


class Tracker:
    """Polls consumers in turn, recording what each one received."""

    def __init__(self, consumers: Iterable[Consumer]) -> None:
        self.consumers = list(consumers)
        self.received: dict[int, list[Any]] = {id(c): [] for c in self.consumers}

    def poll_until(self, predicate: Callable[[], Any], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout_s}s: {self.describe()}")
            self.poll_once()

    def poll_once(self) -> None:
        for c in self.consumers:
            msg = c.poll(0.05)
            if msg is not None and msg.error() is None:
                self.received[id(c)].append(msg)

    def values(self, c: Consumer | None = None) -> list[bytes]:
        if c is not None:
            return [m.value() for m in self.received[id(c)]]
        return [m.value() for msgs in self.received.values() for m in msgs]

    def describe(self) -> str:
        return ", ".join(
            f"consumer{i}: {len(self.received[id(c)])} msgs, assigned {partitions_of(c)}"
            for i, c in enumerate(self.consumers)
        )


def partitions_of(c: Consumer) -> set[tuple[str, int]]:
    return {(tp.topic, tp.partition) for tp in c.assignment()}
