"""kafkajs (Node.js) against a real brook: admin, idempotent producer, consumer group, commits."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).parents[1] / "clients"


def test_kafkajs_roundtrip_with_group_and_commits(kafka_broker):
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules" / "kafkajs").exists():
        pytest.fail("node and kafkajs are needed: `make test` installs kafkajs into tests/clients")
    result = subprocess.run(
        [node, str(CLIENTS / "kafkajs_roundtrip.js"), kafka_broker.bootstrap, "kjs"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
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
