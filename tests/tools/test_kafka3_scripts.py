"""Kafka 3.9's scripts (the last ZooKeeper-mode line, what a ZooKeeper-mode Kafka user has installed) against a real
`brook serve`: the everyday commands, with the options and output of 3.9 (its console producer and
broker-api-versions are still the Scala tools of the core jar)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookProcess
from tests.tools.kafka_tools import run_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with BrookProcess(data_dir=tmp_path_factory.mktemp("kafka3-scripts")) as process:
        yield process


def _kafka3(script: str, *args: str, stdin: str | None = None, expect_exit: int | None = 0) -> list[str]:
    return run_tool(script, *args, stdin=stdin, expect_exit=expect_exit, kafka=3).lines


def test_kafka3_topics_console_tools_and_consumer_groups(broker: BrookProcess) -> None:
    b = broker.bootstrap
    assert _kafka3(
        "kafka-topics", "--bootstrap-server", b, "--create", "--topic", "old-line", "--partitions", "1",
        "--replication-factor", "1", "--config", "retention.ms=3600000",
    ) == ["Created topic old-line."]  # fmt: skip
    described = _kafka3("kafka-topics", "--bootstrap-server", b, "--describe", "--topic", "old-line")
    assert described[0].split("\t")[2:] == [
        "PartitionCount: 1",
        "ReplicationFactor: 1",
        "Configs: retention.ms=3600000",
    ]
    assert described[1].split("\t")[1:6] == [
        "Topic: old-line",
        "Partition: 0",
        "Leader: 0",
        "Replicas: 0",
        "Isr: 0",
    ]

    _kafka3(
        "kafka-console-producer", "--bootstrap-server", b, "--topic", "old-line",
        "--property", "parse.key=true", "--property", "key.separator=:",
        stdin="a:alpha\nb:beta\nc:gamma\n",
    )  # fmt: skip
    consumed = _kafka3(
        "kafka-console-consumer", "--bootstrap-server", b, "--topic", "old-line", "--group", "old-readers",
        "--from-beginning", "--max-messages", "3", "--property", "print.key=true", "--property", "print.offset=true",
    )  # fmt: skip
    assert consumed == ["Offset:0\ta\talpha", "Offset:1\tb\tbeta", "Offset:2\tc\tgamma"]

    rows = _kafka3("kafka-consumer-groups", "--bootstrap-server", b, "--describe", "--group", "old-readers")
    assert rows[0].split()[:6] == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"]
    assert rows[1].split() == ["old-readers", "old-line", "0", "3", "3", "0", "-", "-", "-"]
    reset = _kafka3(
        "kafka-consumer-groups", "--bootstrap-server", b, "--reset-offsets", "--group", "old-readers",
        "--topic", "old-line", "--to-offset", "1", "--execute",
    )  # fmt: skip
    # Kafka 3.9.1 prints this table without line breaks: header and rows run on in one line.
    assert " ".join(reset).split() == [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "NEW-OFFSET",
        "old-readers",
        "old-line",
        "0",
        "1",
    ]
    again = _kafka3(
        "kafka-console-consumer", "--bootstrap-server", b, "--topic", "old-line", "--group", "old-readers",
        "--max-messages", "2",
    )  # fmt: skip
    assert again == ["beta", "gamma"]
    assert "Deletion of requested consumer groups ('old-readers') was successful." in _kafka3(
        "kafka-consumer-groups", "--bootstrap-server", b, "--delete", "--group", "old-readers"
    )


def test_kafka3_configs_offsets_records_log_dirs_and_api_versions(broker: BrookProcess, tmp_path) -> None:
    b = broker.bootstrap
    admin = AdminClient({"bootstrap.servers": b})
    (created,) = admin.create_topics([NewTopic("old-settings", 2, 1)]).values()
    created.result(30)
    _kafka3(
        "kafka-configs", "--bootstrap-server", b, "--alter", "--entity-type", "topics", "--entity-name",
        "old-settings", "--add-config", "cleanup.policy=compact,min.compaction.lag.ms=1000",
    )  # fmt: skip
    assert _kafka3(
        "kafka-configs", "--bootstrap-server", b, "--describe", "--entity-type", "topics", "--entity-name",
        "old-settings",
    ) == [
        "Dynamic configs for topic old-settings are:",
        "  cleanup.policy=compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, "
        "DEFAULT_CONFIG:log.cleanup.policy=delete}",
        "  min.compaction.lag.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.compaction.lag.ms=1000, "
        "DEFAULT_CONFIG:log.cleaner.min.compaction.lag.ms=0}",
    ]  # fmt: skip

    _kafka3(
        "kafka-console-producer", "--bootstrap-server", b, "--topic", "old-settings",
        "--property", "parse.key=true", "--property", "key.separator=:",
        stdin="".join(f"k{i}:v{i}\n" for i in range(6)),
    )  # fmt: skip
    latest = _kafka3("kafka-get-offsets", "--bootstrap-server", b, "--topic", "old-settings")
    assert sum(int(line.rsplit(":", 1)[1]) for line in latest) == 6
    busy = max(latest, key=lambda line: int(line.rsplit(":", 1)[1]))
    partition = int(busy.split(":")[1])
    offsets = tmp_path / "delete.json"
    offsets.write_text(
        json.dumps({"partitions": [{"topic": "old-settings", "partition": partition, "offset": 1}]})
    )
    assert _kafka3("kafka-delete-records", "--bootstrap-server", b, "--offset-json-file", str(offsets))[
        -1
    ] == (f"partition: old-settings-{partition}\tlow_watermark: 1")
    assert f"old-settings:{partition}:1" in _kafka3(
        "kafka-get-offsets", "--bootstrap-server", b, "--topic", "old-settings", "--time", "-2"
    )

    log_dirs = _kafka3(
        "kafka-log-dirs", "--bootstrap-server", b, "--describe", "--topic-list", "old-settings"
    )
    report = json.loads(log_dirs[-1])
    (log_dir,) = report["brokers"][0]["logDirs"]
    assert {p["partition"] for p in log_dir["partitions"]} == {"old-settings-0", "old-settings-1"}

    versions = _kafka3("kafka-broker-api-versions", "--bootstrap-server", b)
    assert versions[0] == f"{b} (id: 0 rack: null) -> ("
    assert re.fullmatch(r"\tProduce\(0\): \d+ to \d+ \[usable: \d+\],", versions[1])


def test_kafka3_producer_and_consumer_perf_tests(broker: BrookProcess) -> None:
    b = broker.bootstrap
    produced = _kafka3(
        "kafka-producer-perf-test", "--topic", "old-perf", "--num-records", "2000", "--record-size", "100",
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={b}", "acks=all",
    )  # fmt: skip
    assert produced[-1].startswith("2000 records sent, ")
    consumed = _kafka3(
        "kafka-consumer-perf-test", "--bootstrap-server", b, "--topic", "old-perf", "--messages", "2000",
    )  # fmt: skip
    stats = dict(zip(consumed[-2].split(", "), consumed[-1].split(", "), strict=True))
    assert int(stats["data.consumed.in.nMsg"]) == 2000
