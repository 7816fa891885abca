"""Kafka's own scripts (Kafka 4.3's kafka_2.13 and kafka-tools jars) against a real `brook serve`: each command as
bin/<script>.sh runs it, asserting the output a Kafka user reads (columns, values, messages)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brook.broker.handlers import load_all
from brook.broker.handlers.base import REGISTRY
from brook.testing import BrookProcess
from tests.tools.kafka_tools import run_tool, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    # A broker-level default set the way server.properties sets it, for kafka-configs' synonyms.
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("kafka-scripts"), overrides={"log.retention.hours": "48"}
    ) as process:
        yield process


def _create(bootstrap: str, topic: str, partitions: int) -> None:
    """Set-up topics come from the Python admin client: a JVM start each is kept for the tools under test."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (future,) = admin.create_topics([NewTopic(topic, partitions, 1)]).values()
    future.result(30)


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], partition: int = 0) -> None:
    errors: list[object] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value in records:
        producer.produce(
            topic, value, key, partition=partition, on_delivery=lambda err, _msg: errors.append(err)
        )
    assert producer.flush(30) == 0
    assert errors == [None] * len(records)


def _columns(line: str) -> list[str]:
    return line.split()


def test_kafka_topics_create_list_describe_alter_delete(broker: BrookProcess) -> None:
    b = broker.bootstrap
    created = run_tool(
        "kafka-topics",
        "--bootstrap-server", b, "--create", "--topic", "orders", "--partitions", "3",
        "--replication-factor", "1", "--config", "retention.ms=3600000", "--config", "cleanup.policy=compact",
    )  # fmt: skip
    assert created.lines == ["Created topic orders."]

    exists = run_tool(
        "kafka-topics", "--bootstrap-server", b, "--create", "--topic", "orders", "--partitions", "1",
        expect_exit=1,
    )  # fmt: skip
    assert "Topic 'orders' already exists." in exists.stdout + exists.stderr

    assert "orders" in run_tool("kafka-topics", "--bootstrap-server", b, "--list").lines

    described = run_tool("kafka-topics", "--bootstrap-server", b, "--describe", "--topic", "orders").lines
    head = described[0].split("\t")
    assert head[0] == "Topic: orders"
    assert re.fullmatch(r"TopicId: [A-Za-z0-9_-]{22}", head[1])
    assert head[2:] == [
        "PartitionCount: 3",
        "ReplicationFactor: 1",
        "Configs: cleanup.policy=compact,retention.ms=3600000",
    ]
    assert [line.split("\t")[1:6] for line in described[1:]] == [
        ["Topic: orders", f"Partition: {p}", "Leader: 0", "Replicas: 0", "Isr: 0"] for p in range(3)
    ]

    run_tool("kafka-topics", "--bootstrap-server", b, "--alter", "--topic", "orders", "--partitions", "5")
    described = run_tool("kafka-topics", "--bootstrap-server", b, "--describe", "--topic", "orders").lines
    assert "PartitionCount: 5" in described[0].split("\t")
    assert [line.split("\t")[2] for line in described[1:]] == [f"Partition: {p}" for p in range(5)]

    run_tool("kafka-topics", "--bootstrap-server", b, "--delete", "--topic", "orders")
    wait_until(
        lambda: "orders" not in run_tool("kafka-topics", "--bootstrap-server", b, "--list").lines,
        60,
        "orders to leave kafka-topics --list",
    )


def test_console_producer_and_consumer_keys_offsets_and_groups(broker: BrookProcess) -> None:
    b = broker.bootstrap
    _create(b, "console", 1)
    run_tool(
        "kafka-console-producer", "--bootstrap-server", b, "--topic", "console",
        "--reader-property", "parse.key=true", "--reader-property", "key.separator=:",
        stdin="k1:first\nk2:second\nk3:third\n",
    )  # fmt: skip

    first = run_tool(
        "kafka-console-consumer", "--bootstrap-server", b, "--topic", "console", "--group", "readers",
        "--from-beginning", "--max-messages", "3",
        "--formatter-property", "print.key=true", "--formatter-property", "print.offset=true",
        "--formatter-property", "print.partition=true",
    )  # fmt: skip
    assert first.lines == [
        "Partition:0\tOffset:0\tk1\tfirst",
        "Partition:0\tOffset:1\tk2\tsecond",
        "Partition:0\tOffset:2\tk3\tthird",
    ]
    assert "Processed a total of 3 messages" in first.stderr

    # The group committed its position: the next consumer of the group starts after `third`.
    _produce(b, "console", [(b"k4", b"fourth"), (b"k5", b"fifth")])
    second = run_tool(
        "kafka-console-consumer", "--bootstrap-server", b, "--topic", "console", "--group", "readers",
        "--max-messages", "2", "--formatter-property", "print.key=true",
    )  # fmt: skip
    assert second.lines == ["k4\tfourth", "k5\tfifth"]


def test_kafka_consumer_groups_list_describe_reset_delete(broker: BrookProcess) -> None:
    b = broker.bootstrap
    _create(b, "ledger", 2)
    _produce(b, "ledger", [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], partition=0)
    _produce(b, "ledger", [(b"d", b"4")], partition=1)

    # A live member: its id, host and client id appear in --describe --members.
    consumer = Consumer(
        {
            "bootstrap.servers": b,
            "group.id": "auditors",
            "client.id": "auditor-1",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe(["ledger"])
        seen: list[bytes] = []

        def read_all() -> bool:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen.append(msg.value())
            return len(seen) == 4

        wait_until(read_all, 60, "the consumer to read the 4 records")
        consumer.commit(asynchronous=False)

        members = run_tool(
            "kafka-consumer-groups", "--bootstrap-server", b, "--describe", "--group", "auditors", "--members"
        ).lines
        assert _columns(members[0]) == ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]
        group, member_id, host, client_id, partitions = _columns(members[1])
        assert (group, client_id, partitions) == ("auditors", "auditor-1", "2")
        assert member_id.startswith("auditor-1-")
        assert host == "/127.0.0.1"

        not_empty = run_tool(
            "kafka-consumer-groups",
            "--bootstrap-server",
            b,
            "--delete",
            "--group",
            "auditors",
            expect_exit=None,
        )
        assert "Group 'auditors' could not be deleted due to" in not_empty.stdout + not_empty.stderr
        assert "GroupNotEmptyException" in not_empty.stdout + not_empty.stderr
    finally:
        consumer.close()

    assert "auditors" in run_tool("kafka-consumer-groups", "--bootstrap-server", b, "--list").lines

    described = run_tool(
        "kafka-consumer-groups", "--bootstrap-server", b, "--describe", "--group", "auditors"
    )
    rows = described.lines
    assert _columns(rows[0]) == [
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID",
    ]  # fmt: skip
    assert sorted(_columns(row) for row in rows[1:]) == [
        ["auditors", "ledger", "0", "3", "3", "0", "-", "-", "-"],
        ["auditors", "ledger", "1", "1", "1", "0", "-", "-", "-"],
    ]
    assert "Consumer group 'auditors' has no active members." in described.stdout + described.stderr

    state = run_tool(
        "kafka-consumer-groups", "--bootstrap-server", b, "--describe", "--group", "auditors", "--state"
    ).lines
    assert _columns(state[0]) == ["GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]
    assert _columns(state[1]) == ["auditors", broker.bootstrap, "(0)", "-", "Empty", "0"]

    reset = run_tool(
        "kafka-consumer-groups", "--bootstrap-server", b, "--reset-offsets", "--group", "auditors",
        "--topic", "ledger", "--to-earliest", "--execute",
    )  # fmt: skip
    assert _columns(reset.lines[0]) == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
    assert sorted(_columns(row) for row in reset.lines[1:]) == [
        ["auditors", "ledger", "0", "0"],
        ["auditors", "ledger", "1", "0"],
    ]
    rows = run_tool(
        "kafka-consumer-groups", "--bootstrap-server", b, "--describe", "--group", "auditors"
    ).lines
    assert sorted(_columns(row)[:6] for row in rows[1:]) == [
        ["auditors", "ledger", "0", "0", "3", "3"],
        ["auditors", "ledger", "1", "0", "1", "1"],
    ]

    deleted = run_tool("kafka-consumer-groups", "--bootstrap-server", b, "--delete", "--group", "auditors")
    assert "Deletion of requested consumer groups ('auditors') was successful." in deleted.lines
    assert "auditors" not in run_tool("kafka-consumer-groups", "--bootstrap-server", b, "--list").lines


def test_kafka_configs_topics_and_brokers(broker: BrookProcess) -> None:
    b = broker.bootstrap
    _create(b, "settings", 1)
    altered = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--alter", "--entity-type", "topics", "--entity-name", "settings",
        "--add-config", "retention.ms=86400000,max.message.bytes=200000",
    )  # fmt: skip
    assert altered.lines == ["Completed updating config for topic settings."]
    described = run_tool(
        "kafka-configs",
        "--bootstrap-server",
        b,
        "--describe",
        "--entity-type",
        "topics",
        "--entity-name",
        "settings",
    )
    assert described.lines == [
        "Dynamic configs for topic settings are:",
        "  max.message.bytes=200000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=200000, "
        "DEFAULT_CONFIG:message.max.bytes=1048588}",
        "  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=86400000, "
        "STATIC_BROKER_CONFIG:log.retention.hours=48, DEFAULT_CONFIG:log.retention.hours=168}",
    ]

    run_tool(
        "kafka-configs", "--bootstrap-server", b, "--alter", "--entity-type", "topics", "--entity-name", "settings",
        "--delete-config", "max.message.bytes",
    )  # fmt: skip
    everything = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--describe", "--entity-type", "topics", "--entity-name", "settings",
        "--all",
    ).lines  # fmt: skip
    assert everything[0] == "All configs for topic settings are:"
    assert (
        "  max.message.bytes=1048588 sensitive=false synonyms={DEFAULT_CONFIG:message.max.bytes=1048588}"
        in (everything)
    )
    assert (
        "  cleanup.policy=delete sensitive=false synonyms={DEFAULT_CONFIG:log.cleanup.policy=delete}"
        in everything
    )

    # The broker: no dynamic configs yet; --all shows server.properties' values with Kafka's defaults as synonyms.
    dynamic = run_tool(
        "kafka-configs",
        "--bootstrap-server",
        b,
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
    )
    assert dynamic.lines == ["Dynamic configs for broker 0 are:"]
    static = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--describe", "--entity-type", "brokers", "--entity-name", "0",
        "--all",
    ).lines  # fmt: skip
    assert static[0] == "All configs for broker 0 are:"
    assert (
        "  log.retention.hours=48 sensitive=false synonyms={STATIC_BROKER_CONFIG:log.retention.hours=48, "
        "DEFAULT_CONFIG:log.retention.hours=168}"
    ) in static
    assert "  num.partitions=1 sensitive=false synonyms={DEFAULT_CONFIG:num.partitions=1}" in static
    # Dynamic broker configs: one broker's own, then the cluster-wide default; a static key is refused.
    altered = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--alter", "--entity-type", "brokers", "--entity-name", "0",
        "--add-config", "log.retention.ms=7200000",
    )  # fmt: skip
    assert altered.lines == ["Completed updating config for broker 0."]
    dynamic = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--describe", "--entity-type", "brokers", "--entity-name", "0",
    ).lines  # fmt: skip
    assert dynamic[0] == "Dynamic configs for broker 0 are:"
    assert dynamic[1].startswith(
        "  log.retention.ms=7200000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=7200000"
    ), dynamic
    default = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--alter", "--entity-type", "brokers", "--entity-default",
        "--add-config", "log.retention.ms=3600000",
    )  # fmt: skip
    assert default.lines == ["Completed updating default config for brokers in the cluster."]
    refused = run_tool(
        "kafka-configs", "--bootstrap-server", b, "--alter", "--entity-type", "brokers", "--entity-name", "0",
        "--add-config", "num.partitions=3",
        expect_exit=1,
    )  # fmt: skip
    assert "Cannot update these configs dynamically: Set(num.partitions)" in refused.stderr


def test_get_offsets_delete_records_and_log_dirs(broker: BrookProcess) -> None:
    b = broker.bootstrap
    _create(b, "events", 2)
    _produce(b, "events", [(b"k", b"v%d" % i) for i in range(5)], partition=0)
    _produce(b, "events", [(b"k", b"w%d" % i) for i in range(2)], partition=1)

    latest = run_tool("kafka-get-offsets", "--bootstrap-server", b, "--topic", "events")
    assert latest.lines == ["events:0:5", "events:1:2"]

    deleted = run_tool(
        "kafka-delete-records",
        "--bootstrap-server",
        b,
        "--offset-json-file",
        str(_offset_json(broker.data_dir.parent / "delete-records.json", "events", 0, 3)),
    )
    assert deleted.lines[-1] == "partition: events-0\tlow_watermark: 3"
    earliest = run_tool("kafka-get-offsets", "--bootstrap-server", b, "--topic-partitions", "events:0,events:1",
                        "--time", "-2")  # fmt: skip
    assert earliest.lines == ["events:0:3", "events:1:0"]

    log_dirs = run_tool("kafka-log-dirs", "--bootstrap-server", b, "--describe", "--topic-list", "events")
    assert log_dirs.lines[:2] == [
        "Querying brokers for log directories information",
        "Received log directory information from brokers 0",
    ]
    report = json.loads(log_dirs.lines[2])
    assert report["version"] == 1
    (only_broker,) = report["brokers"]
    assert only_broker["broker"] == 0
    (log_dir,) = only_broker["logDirs"]
    assert Path(log_dir["logDir"]) == broker.data_dir
    assert log_dir["error"] is None
    sizes = {p["partition"]: p for p in log_dir["partitions"]}
    assert set(sizes) == {"events-0", "events-1"}
    assert sizes["events-0"]["size"] > sizes["events-1"]["size"] > 0
    assert all(p["offsetLag"] == 0 and p["isFuture"] is False for p in sizes.values())


def _offset_json(path: Path, topic: str, partition: int, offset: int) -> Path:
    path.write_text(json.dumps({"partitions": [{"topic": topic, "partition": partition, "offset": offset}]}))
    return path


def test_kafka_broker_api_versions_lists_what_brook_handles(broker: BrookProcess) -> None:
    result = run_tool("kafka-broker-api-versions", "--bootstrap-server", broker.bootstrap)
    assert result.lines[0] == f"{broker.bootstrap} (id: 0 rack: null isFenced: false) -> ("
    assert result.lines[-1] == ")"
    listed: dict[int, tuple[int, int]] = {}
    for line in result.lines[1:-1]:
        match = re.fullmatch(r"\t(\w+)\((\d+)\): (?:(\d+) to )?(\d+) \[usable: (\d+)\],?", line)
        if match is None:
            assert re.fullmatch(r"\t\w+\(\d+\): UNSUPPORTED,?", line), line
            continue
        low, high = int(match[3] or match[4]), int(match[4])
        listed[int(match[2])] = (low, high)
        assert int(match[5]) <= high
    load_all()
    assert listed == {key: (h.versions[0], h.versions[-1]) for key, h in REGISTRY.items() if key in listed}
    # Every API brook handles that this client knows is listed as usable (Kafka 4.x dropped a few old keys).
    assert {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 32, 35, 37, 42, 44} <= set(
        listed
    )


def test_kafka_cluster_cluster_id(broker: BrookProcess) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    cluster_id = admin.describe_cluster().result(10).cluster_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
    shown = run_tool("kafka-cluster", "cluster-id", "--bootstrap-server", broker.bootstrap)
    assert shown.lines == [f"Cluster ID: {cluster_id}"]


def test_producer_and_consumer_perf_tests(broker: BrookProcess) -> None:
    b = broker.bootstrap
    _create(b, "perf", 2)
    produced = run_tool(
        "kafka-producer-perf-test", "--topic", "perf", "--num-records", "3000", "--record-size", "100",
        "--throughput", "-1", "--command-property", f"bootstrap.servers={b}", "acks=all",
    )  # fmt: skip
    assert re.fullmatch(
        r"3000 records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, "
        r"\d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99.9th\.",
        produced.lines[-1],
    ), produced.describe()
    offsets = run_tool("kafka-get-offsets", "--bootstrap-server", b, "--topic", "perf").lines
    assert sum(int(line.rsplit(":", 1)[1]) for line in offsets) == 3000

    consumed = run_tool(
        "kafka-consumer-perf-test", "--bootstrap-server", b, "--topic", "perf", "--num-records", "3000",
        "--group", "perf-readers",
    )  # fmt: skip
    header, row = consumed.lines[-2:]
    stats = dict(zip(header.split(", "), row.split(", "), strict=True))
    assert int(stats["data.consumed.in.nMsg"]) == 3000
    assert float(stats["data.consumed.in.MB"]) == pytest.approx(3000 * 100 / 1024 / 1024, abs=0.0001)
