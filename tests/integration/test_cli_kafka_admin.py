"""kafka-topics/kafka-configs/kafka-consumer-groups/kafka-delete-records forms of `brook topic` and
`brook group` against a real broker: Kafka's config syntax, delete-records, describe filters, delete-offsets,
reset-offsets --by-duration/--to-current/--from-file/--export, failures on stderr."""

from __future__ import annotations

import json

import pytest

from tests.integration.cli_helpers import Brook, module_broker_fixture, table, unique

cli_broker = module_broker_fixture()


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


def _configs(brook, topic):
    return brook.json("topic", "describe", topic)["configs"]


def test_kafka_config_syntax_lists_and_comma_separated_pairs(brook, tmp_path):
    topic = unique("cfg")
    brook.run("topic", "create", topic, "--config", "retention.ms=600000,segment.bytes=2000000")
    assert _configs(brook, topic) == {"retention.ms": "600000", "segment.bytes": "2000000"}
    brook.run(
        "topic",
        "alter-config",
        topic,
        "--add-config",
        "cleanup.policy=[compact,delete],retention.ms=700000",
        "--add-config",
        "max.message.bytes=3000000",
    )
    assert _configs(brook, topic) == {
        "cleanup.policy": "compact,delete",
        "retention.ms": "700000",
        "segment.bytes": "2000000",
        "max.message.bytes": "3000000",
    }
    brook.run("topic", "alter-config", topic, "--delete-config", "retention.ms,segment.bytes")
    assert _configs(brook, topic) == {"cleanup.policy": "compact,delete", "max.message.bytes": "3000000"}

    props = tmp_path / "add.properties"
    props.write_text("# kafka-configs.sh --add-config-file\nretention.ms=800000\n")
    brook.run("topic", "alter-config", topic, "--add-config-file", props)
    assert _configs(brook, topic)["retention.ms"] == "800000"
    result = brook.run("topic", "alter-config", topic, "--add-config", "=3", expect=2)
    assert "expected key=value" in result.stderr


def test_failed_rows_go_to_stderr_and_if_exists_says_nothing_was_done(brook):
    present, missing = unique("here"), unique("gone")
    brook.run("topic", "create", present)
    result = brook.run("topic", "delete", missing, "--if-exists")
    assert result.stdout.splitlines()[1].split(None, 1) == [missing, "NOT-FOUND (nothing deleted)"]
    result = brook.run("topic", "create", present, "--if-not-exists")
    assert "EXISTS (nothing created)" in result.stdout
    result = brook.run("topic", "delete", missing, present, expect=1)
    assert result.stderr.splitlines() == [
        f"brook: {missing}: Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)"
    ]
    assert present not in brook.run("topic", "list").stdout
    result = brook.run(
        "topic", "alter-config", missing, "--add-config", "retention.ms=1", "-o", "json", expect=1
    )
    assert json.loads(result.stdout)[0]["status"] == "FAILED"
    assert result.stderr.startswith(f"brook: {missing}: ")


def test_delete_records_by_flag_and_by_kafkas_json_file(brook, tmp_path):
    topic = unique("dr")
    brook.run("topic", "create", topic, "-p", 2)
    for p in (0, 1):
        brook.run("produce", topic, "-p", p, input="".join(f"p{p}m{i}\n" for i in range(10)))
    out = brook.run("topic", "delete-records", topic, "--partition", 1, "--before-offset", 4).stdout
    assert table(out) == [{"PARTITION": f"{topic}-1", "LOW-WATERMARK": "4"}]
    plan = tmp_path / "offsets.json"
    plan.write_text(
        json.dumps(
            {
                "partitions": [
                    {"topic": topic, "partition": 0, "offset": -1},
                    {"topic": topic, "partition": 1, "offset": 6},
                ],
                "version": 1,
            }
        )
    )
    out = brook.run("topic", "delete-records", "--offset-json-file", plan).stdout
    assert table(out) == [
        {"PARTITION": f"{topic}-0", "LOW-WATERMARK": "10"},
        {"PARTITION": f"{topic}-1", "LOW-WATERMARK": "6"},
    ]
    starts = [p["log_start_offset"] for p in brook.json("topic", "describe", topic)["partitions"]]
    assert starts == [10, 6]
    values = brook.run("consume", topic, "--from-beginning", "-e").stdout.splitlines()
    assert values == ["p1m6", "p1m7", "p1m8", "p1m9"]
    result = brook.run("topic", "delete-records", topic, "--before-offset", 99, expect=1)
    assert "OFFSET_OUT_OF_RANGE" in result.stderr
    plan.write_text('{"partitions": [{"topic": "x", "partition": -1, "offset": 1}]}')
    assert (
        "partition must be a number >= 0"
        in brook.run("topic", "delete-records", "--offset-json-file", plan, expect=2).stderr
    )
    result = brook.run("topic", "delete-records", topic, "--before-offset", 1, "-p", 7, expect=1)
    assert result.stderr == f"brook: {topic} has no partition 7 (partitions: 0-1)\n"
    assert "--before-offset" in brook.run("topic", "delete-records", topic, expect=2).stderr


def test_describe_filters_for_min_isr_and_overrides(brook):
    strict, plain = unique("strict"), unique("plain")
    brook.run("topic", "create", strict, "-p", 2, "--config", "min.insync.replicas=2")
    brook.run("topic", "create", plain)
    rows = brook.json("topic", "describe", strict, plain, "--under-min-isr-partitions")
    assert [(r["topic"], r["partition"]) for r in rows] == [(strict, 0), (strict, 1)]
    rows = brook.json("topic", "describe", strict, plain, "--at-min-isr-partitions")
    assert [(r["topic"], r["partition"]) for r in rows] == [(plain, 0)]
    assert brook.json("topic", "describe", strict, plain, "--under-replicated-partitions") == []
    assert brook.json("topic", "describe", strict, plain, "--unavailable-partitions") == []
    docs = brook.json("topic", "describe", strict, plain, "--topics-with-overrides")
    assert [d["name"] for d in docs] == [strict]
    text = brook.run("topic", "describe", strict, "--under-min-isr-partitions").stdout
    assert table(text)[0] == {"TOPIC": strict, "PARTITION": "0", "LEADER": "0", "REPLICAS": "0", "ISR": "0"}
    result = brook.run("topic", "describe", "--unavailable-partitions", "--topics-with-overrides", expect=2)
    assert "give one of" in result.stderr


def _committed(brook, group):
    return {
        (r["topic"], r["partition"]): r["current_offset"]
        for r in brook.json("group", "describe", group)["partitions"]
    }


def test_group_delete_offsets_and_reset_offsets_export_from_file(brook, tmp_path):
    topic, group = unique("gt"), unique("g")
    brook.run("topic", "create", topic, "-p", 2)
    for p in (0, 1):
        brook.run("produce", topic, "-p", p, input="".join(f"{i}\n" for i in range(6)))
    brook.run("group", "reset-offsets", group, "--topic", topic, "--to-offset", 2, "--execute")
    exported = brook.run("group", "reset-offsets", group, "--topic", topic, "--to-current", "--export").stdout
    assert exported.splitlines() == [f"{topic},0,2", f"{topic},1,2"]
    by_duration = brook.run(
        "group", "reset-offsets", group, "--topic", f"{topic}:1", "--by-duration", "PT1H", "--export"
    )
    assert by_duration.stdout.splitlines() == [f"{topic},1,0"]
    plan = tmp_path / "plan.csv"
    plan.write_text(f"{topic},0,5\n{topic},1,4\n")
    brook.run("group", "reset-offsets", group, "--from-file", plan, "--execute")
    assert _committed(brook, group) == {(topic, 0): 5, (topic, 1): 4}
    out = brook.run("group", "delete-offsets", "--group", group, "--topic", f"{topic}:0").stdout
    assert table(out) == [{"TOPIC": topic, "PARTITION": "0", "STATUS": "Successful"}]
    assert _committed(brook, group) == {(topic, 1): 4}
    result = brook.run("group", "delete-offsets", unique("nogroup"), "--topic", topic, expect=1)
    assert "GROUP_ID_NOT_FOUND" in result.stderr
    plan.write_text(f"other,{topic},0,1\n")
    assert (
        "not one of --group"
        in brook.run("group", "reset-offsets", group, "--from-file", plan, expect=2).stderr
    )
    assert (
        "ISO-8601 duration"
        in brook.run(
            "group", "reset-offsets", group, "--topic", topic, "--by-duration", "1h", expect=2
        ).stderr
    )
    result = brook.run(
        "group", "reset-offsets", group, "--topic", topic, "--to-datetime", "yesterday", expect=2
    )
    assert "--to-datetime" in result.stderr
    assert "--timestamp" not in result.stderr


def test_add_partitions_refuses_a_negative_count(brook):
    topic = unique("ap")
    brook.run("topic", "create", topic)
    result = brook.run("topic", "add-partitions", topic, "--num", -1, expect=2)
    assert "add at least one partition" in result.stderr
