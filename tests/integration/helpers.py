"""Small helpers for integration tests: deadlines instead of sleeps."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from brook.broker.app import Broker
from brook.broker.config import BrokerConfig


@contextlib.asynccontextmanager
async def in_process_broker(data_dir: Path) -> AsyncIterator[Broker]:
    """A broker in this test's event loop (embedded metadata, any free port), stopped afterwards."""
    config = BrokerConfig.from_sources(
        None, [("listeners", "PLAINTEXT://127.0.0.1:0"), ("log.dirs", str(data_dir))]
    )
    broker = Broker(config)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def wait_until(predicate: Callable[[], Any], timeout_s: float = 15.0, interval_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)


def produce_all(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]], **config: Any
) -> list[Any]:
    """Produce records and return their delivery reports (messages), failing on any delivery error."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **config})
    delivered: list[Any] = []
    errors: list[Any] = []

    def on_delivery(err: Any, msg: Any) -> None:
        (errors if err else delivered).append(err or msg)

    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    remaining = producer.flush(30)
    assert remaining == 0, "producer did not flush"
    assert not errors, errors
    return delivered


def consume_assigned(
    bootstrap: str, topic: str, partition: int, count: int, offset: int = 0, timeout_s: float = 20.0
) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "assign-only", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, partition, offset)])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            messages.append(msg)
    finally:
        consumer.close()
    return messages


def read_values(
    bootstrap: str, topic: str, partitions: int, isolation: str, until: int, timeout_s: float = 30.0
) -> list[bytes]:
    """Every value of `topic` (all partitions from offset 0, `isolation` read_committed or read_uncommitted)
    until at least `until` are read and every partition's end is reached, or `timeout_s` passes."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    values: list[bytes] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(values) >= until and len(at_end) == partitions:
                    break
                continue
            if msg.error() is not None:
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                at_end.add(msg.partition())
                continue
            at_end.discard(msg.partition())
            values.append(msg.value())
    finally:
        consumer.close()
    return values


CLIENTS = Path(__file__).parents[1] / "clients"


def run_kafkajs(script: str, *args: str, timeout_s: float = 120) -> Any:
    """Run tests/clients/<script> with node (`make test` installs kafkajs there); it must exit 0.
    Returns the JSON report it prints as its last line."""
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules" / "kafkajs").exists():
        pytest.fail("node and kafkajs are needed: `make test` installs kafkajs into tests/clients")
    result = subprocess.run(
        [node, str(CLIENTS / script), *args], capture_output=True, text=True, timeout=timeout_s
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
