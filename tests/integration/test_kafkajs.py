"""kafkajs (Node.js) against a real brook: admin, idempotent producer, consumer group, commits."""

from __future__ import annotations

from tests.integration.helpers import run_kafkajs


def test_kafkajs_roundtrip_with_group_and_commits(kafka_broker):
    report = run_kafkajs("kafkajs_roundtrip.js", kafka_broker.bootstrap, "kjs")
    assert all(p["errorCode"] == 0 for p in report["sent"])
    received = report["received"]
    assert sorted((r["key"], r["value"], r["header"]) for r in received) == sorted(
        (f"k{i}", f"v{i}", f"x{i}") for i in range(30)
    )
    by_partition: dict[int, list[int]] = {}
    for r in received:
        by_partition.setdefault(r["partition"], []).append(r["offset"])
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))
    committed = {p["partition"]: int(p["offset"]) for p in report["committed"][0]["partitions"]}
    assert committed == {p: len(offsets) for p, offsets in by_partition.items()} | {
        p: -1 for p in range(3) if p not in by_partition
    }
