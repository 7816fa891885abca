"""Helpers of the Java client tests: topics, consumers on the driver, records to send and to expect."""

from __future__ import annotations

from typing import Any

from brook.records.batch import iter_batches
from brook.testing import BrookProcess
from tests.integration.helpers import wait_until
from tests.integration.java.driver import JavaDriver
from tests.integration.raw_client import RawClient

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")  # compression attribute bits 0..4, in this order


def create_topic(java: JavaDriver, topic: str, partitions: int, **configs: str) -> str:
    created = java.admin(
        "create_topics", topics=[{"name": topic, "partitions": partitions, "configs": configs}]
    )
    assert created[topic]["error"] is None, created
    return str(created[topic]["topic_id"])


def open_consumer(java: JavaDriver, broker: BrookProcess, name: str, **config: Any) -> str:
    java.call(
        "consumer_open",
        name=name,
        config={
            "bootstrap.servers": broker.bootstrap,
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
            "client.id": name,
            "heartbeat.interval.ms": "500",  # members learn of a rebalance sooner than the default 3 s
            **{k: v for k, v in config.items() if k not in ("subscribe", "assign")},
        },
        **{k: v for k, v in config.items() if k in ("subscribe", "assign")},
    )
    return name


def read(java: JavaDriver, consumer: str, count: int, timeout_ms: int = 30_000) -> list[dict[str, Any]]:
    """Exactly `count` records from the consumer (fails on fewer), then checks nothing more arrived."""
    records = java.call("consumer_records", name=consumer, count=count, timeout_ms=timeout_ms)
    if len(records) != count:
        state = java.call("consumer_state", name=consumer)
        raise AssertionError(f"{consumer}: {len(records)} of {count} records; {state}\n{java.log()[-6000:]}")
    return records


def assignment(java: JavaDriver, consumer: str) -> set[tuple[str, int]]:
    return {(t, p) for t, p in java.call("consumer_state", name=consumer)["assignment"]}


def wait_assignments(
    java: JavaDriver, expected: dict[str, int], timeout_s: float = 60.0
) -> dict[str, set[Any]]:
    """Waits until each consumer holds the expected number of partitions, disjoint from the others'."""

    def settled() -> dict[str, set[Any]] | None:
        held = {c: assignment(java, c) for c in expected}
        sizes_ok = all(len(held[c]) == n for c, n in expected.items())
        disjoint = sum(len(s) for s in held.values()) == len(set().union(*held.values()))
        return held if sizes_ok and disjoint else None

    return wait_until(settled, timeout_s=timeout_s, interval_s=0.2)


def records_for(topic: str, count: int, tag: str) -> list[dict[str, Any]]:
    """Keyed records (keys repeat, so partitioning by key is checked), one with a null key; two headers each."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        key = None if i == count - 1 else f"key-{i % 7}"
        headers = [["n", str(i)], ["tag", tag]] if i % 5 else [["n", str(i)], ["empty", None]]
        out.append({"key": key, "value": f"{tag}-value-{i}-" + "x" * (i % 13), "headers": headers})
    return out


def by_partition(records: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        grouped.setdefault(r["partition"], []).append(r)
    return grouped


def stored_batches(broker: BrookProcess, topic: str, partition: int) -> list[Any]:
    """The headers of a partition's batches as brook serves them (a raw Fetch v4)."""
    raw = RawClient(broker.bootstrap)
    try:
        body = {
            "replica_id": -1,
            "max_wait": 0,
            "min_bytes": 1,
            "max_bytes": 1 << 20,
            "isolation_level": 0,
            "topics": [
                {
                    "topic": topic,
                    "partitions": [
                        {"partition": partition, "fetch_offset": 0, "partition_max_bytes": 1 << 20}
                    ],
                }
            ],
        }
        data = raw.request(1, 4, body).responses[0].partitions[0]
        assert data.error_code == 0
        return [header for _, header in iter_batches(data.records)]
    finally:
        raw.close()


def produce(
    java: JavaDriver, broker: BrookProcess, topic: str, partitions: int, per_partition: int, tag: str
):
    records = [
        {"partition": p, "key": f"{tag}-{p}-{i}", "value": f"{tag}-{p}-{i}"}
        for i in range(per_partition)
        for p in range(partitions)
    ]
    config = {"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": "5"}
    acked = java.call("produce", config=config, topic=topic, records=records)
    assert not [m for m in acked if "error" in m]
    return acked


def values(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["value"] for r in records)


def expected_values(partitions: int, per_partition: int, tag: str) -> list[str]:
    return sorted(f"{tag}-{p}-{i}" for i in range(per_partition) for p in range(partitions))
