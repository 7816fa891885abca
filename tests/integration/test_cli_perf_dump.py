"""`brook perf produce|consume` and `brook dump-log` on the segments a real broker wrote."""

from __future__ import annotations

import json
import re

import pytest

from tests.integration.cli_helpers import Brook, module_broker_fixture, unique

cli_broker = module_broker_fixture()

PRODUCER_SUMMARY = re.compile(
    r"^(?P<n>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th\.$"
)


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


def test_perf_produce_then_consume_print_kafkas_summaries(brook):
    topic = unique("perf")
    brook.run("topic", "create", topic, "-p", 2)
    out = brook.run(
        "perf", "produce", "--topic", topic, "--num-records", 2000, "--record-size", 100, "--acks", "all"
    ).stdout
    match = PRODUCER_SUMMARY.match(out.strip().splitlines()[-1])
    assert match, out
    assert int(match["n"]) == 2000
    assert float(match["rate"]) > 0
    assert float(match["avg"]) <= float(match["max"])
    assert int(match["p50"]) <= int(match["p95"]) <= int(match["p99"]) <= int(match["p999"])

    ends = [p["log_end_offset"] for p in brook.json("topic", "describe", topic)["partitions"]]
    assert sum(ends) == 2000

    out = brook.run("perf", "consume", topic, "--messages", 2000, "--timeout", 10000).stdout
    header, line = out.strip().splitlines()[-2:]
    assert header.split(", ")[:6] == [
        "start.time",
        "end.time",
        "data.consumed.in.MB",
        "MB.sec",
        "data.consumed.in.nMsg",
        "nMsg.sec",
    ]
    values = line.split(", ")
    assert values[4] == "2000"
    assert float(values[2]) == pytest.approx(2000 * 100 / 1024 / 1024, abs=1e-3)


def test_perf_produce_respects_throughput(brook):
    topic = unique("throttled")
    out = brook.run("perf", "produce", topic, "-n", 300, "-s", 10, "--throughput", 1000).stdout
    match = PRODUCER_SUMMARY.match(out.strip())
    assert match, out
    assert float(match["rate"]) < 1300


def test_dump_log_reads_the_brokers_segments(brook):
    topic = unique("dump")
    brook.run("topic", "create", topic)
    brook.run("produce", topic, "-k", "=", "-H", "h=1", input="".join(f"k{i}=v{i}\n" for i in range(50)))
    # librdkafka sends a batch uncompressed when compression would not shrink it: make it worth it
    brook.run("produce", topic, "--compression", "gzip", input="zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz1\n" * 20)
    partition_dir = brook.broker.data_dir / f"{topic}-0"
    (log,) = sorted(partition_dir.glob("*.log"))

    doc = json.loads(brook.run("dump-log", log, "--deep", "--format", "json", offline=True).stdout)
    assert all(b["crc_valid"] for b in doc["batches"])
    assert doc["invalid_bytes"] == 0
    records = [r for b in doc["batches"] for r in b["records"]]
    assert [r["offset"] for r in records] == list(range(70))
    assert records[0]["key"] == "k0"
    assert records[0]["headers"] == [{"key": "h", "value": "1", "value_encoding": "utf8"}]
    assert records[-1]["value"] == "z" * 30 + "1"
    assert doc["batches"][-1]["compression"] == "gzip"

    text = brook.run("dump-log", log, "--deep", offline=True).stdout
    assert "| offset: 0 CreateTime:" in text
    assert "key: k0 payload: v0" in text

    for suffix in (".index", ".timeindex"):
        index = log.with_suffix(suffix)
        if index.exists():
            index_doc = json.loads(brook.run("dump-log", index, "-o", "json", offline=True).stdout)
            assert index_doc["mismatches"] == [], index_doc
