"""kafka-console-consumer/producer semantics of `brook consume`/`brook produce` against a real broker:
auto.offset.reset for removed offsets, options refused or honoured as Kafka's tools do, Kafka's layout."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.integration.cli_helpers import Brook, module_broker_fixture, unique

cli_broker = module_broker_fixture()


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


def _trimmed_topic(brook, before: int) -> str:
    """A one-partition topic with records 0..9 whose records before `before` were deleted."""
    topic = unique("trim")
    brook.run("topic", "create", topic)
    brook.run("produce", topic, input="".join(f"m{i}\n" for i in range(10)))
    admin = AdminClient({"bootstrap.servers": brook.broker.bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, before)]).values():
        future.result(20)
    return topic


def test_removed_offset_follows_auto_offset_reset_with_a_warning(brook):
    topic = _trimmed_topic(brook, 5)
    latest = brook.run("consume", topic, "-p", 0, "--offset", 2, "-e")
    assert latest.stdout == ""
    assert (
        f"brook: warning: {topic}/0: offset 2 is out of range (log start 5, log end 10); "
        "auto.offset.reset=latest resumes at offset 10"
    ) in latest.stderr
    assert "Processed a total of 0 messages" in latest.stderr

    earliest = brook.run(
        "consume", topic, "-p", 0, "--offset", 2, "-e", "--property", "auto.offset.reset=earliest"
    )
    assert earliest.stdout.splitlines() == ["m5", "m6", "m7", "m8", "m9"]
    assert "resumes at offset 5" in earliest.stderr
    # -X (kafka-console-consumer's --consumer-property) and kcat's spelling work too; -n stops there.
    beyond = brook.run("consume", topic, "-p", 0, "--offset", 50, "-n", 2, "-X", "auto.offset.reset=smallest")
    assert beyond.stdout.splitlines() == ["m5", "m6"]
    assert f"{topic}/0: offset 50 is out of range (log start 5, log end 10)" in beyond.stderr


def test_strict_reset_makes_a_removed_offset_an_error(brook):
    topic = _trimmed_topic(brook, 4)
    for strict in (
        ["--property", "auto.offset.reset=none"],
        ["--consumer-property", "auto.offset.reset=error"],
    ):
        result = brook.run("consume", topic, "-p", 0, "--offset", 1, *strict, expect=1)
        assert result.stdout == ""
        assert result.stderr.strip().splitlines()[-1] == (
            f"brook: {topic}/0: offset 1 is out of range (log start 4, log end 10) and auto.offset.reset=none"
        )
    assert (
        brook.run(
            "consume", topic, "-p", 0, "--offset", 8, "-e", "--property", "auto.offset.reset=none"
        ).stdout
        == "m8\nm9\n"
    )
    result = brook.run(
        "consume", topic, "--from-beginning", "--property", "auto.offset.reset=latest", expect=2
    )
    assert "conflicts with auto.offset.reset" in result.stderr


def test_group_with_a_removed_committed_offset_resumes_with_a_warning(brook):
    topic = _trimmed_topic(brook, 6)
    group = unique("g")
    committer = Consumer({"bootstrap.servers": brook.broker.bootstrap, "group.id": group})
    try:  # a commit from before the deletion (reset-offsets would clamp it to the log start)
        committer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    finally:
        committer.close()
    result = brook.run("consume", topic, "-g", group, "-n", 4, "--property", "auto.offset.reset=earliest")
    assert result.stdout.splitlines() == ["m6", "m7", "m8", "m9"]
    assert f"{topic}/0: offset 1 is out of range (log start 6, log end 10)" in result.stderr
    # A new group without committed offsets starts at the policy's end quietly.
    fresh = brook.run("consume", topic, "-g", unique("fresh"), "--from-beginning", "-n", 4)
    assert fresh.stdout.splitlines() == ["m6", "m7", "m8", "m9"]
    assert "warning" not in fresh.stderr
    strict = brook.run("consume", topic, "-g", unique("strict"), "-X", "auto.offset.reset=none", expect=1)
    assert (
        strict.stderr.strip().splitlines()[-1]
        == f"brook: {topic}/0: no committed offset and auto.offset.reset=none"
    )


def test_new_group_on_many_partitions_starts_quietly_per_policy(brook):
    topic = unique("wide")
    brook.run("topic", "create", topic, "-p", 8)
    brook.run("produce", topic, "-k", ":", input="".join(f"k{i}:v{i}\n" for i in range(40)))
    earliest = brook.run("consume", topic, "-g", unique("w"), "--from-beginning", "-e")
    assert sorted(earliest.stdout.splitlines()) == sorted(f"v{i}" for i in range(40))
    assert "warning" not in earliest.stderr
    latest = brook.run("consume", topic, "-g", unique("w"), "-e")
    assert latest.stdout == ""
    assert "Processed a total of 0 messages" in latest.stderr


def test_kafka_layout_with_print_key_and_headers(brook):
    topic = unique("layout")
    brook.run(
        "produce",
        topic,
        "--property",
        "parse.headers=true",
        "--property",
        "parse.key=true",
        "--property",
        "null.marker=NULL",
        input="a:1,b:2\tk1\tv1\nNULL\tNULL\tv2\n",
    )
    props = ["--property", "print.key=true", "--property", "print.headers=true"]
    out = brook.run("consume", topic, "--from-beginning", "-n", 2, *props).stdout
    assert out == "a:1,b:2\tk1\tv1\nNO_HEADERS\tnull\tv2\n"
    out = brook.run(
        "consume",
        topic,
        "--from-beginning",
        "-n",
        2,
        "--property",
        "print.value=false",
        "--property",
        "print.offset=true",
    ).stdout
    assert out == "Offset:0\nOffset:1\n"
    records = [
        json.loads(line)
        for line in brook.run("consume", topic, "--from-beginning", "-n", 2, "-f", "json").stdout.splitlines()
    ]
    assert records[0]["headers"] == [
        {"key": "a", "value": "1", "value_encoding": "utf8"},
        {"key": "b", "value": "2", "value_encoding": "utf8"},
    ]
    assert records[1]["key"] is None
    assert brook.run("consume", topic, "--from-beginning", "-n", 1, "--format", "text").stdout == "v1\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["consume", "T", "--format", "bogus"], "neither text, json nor a template"),
        (["consume", "T", "-f", "%k %s", "--property", "print.key=true"], "two ways to lay out a record"),
        (["consume", "T", "--property", "print.key=yes"], "print.key takes true or false"),
        (["consume", "T", "--property", "print.bogus=true"], "unknown property 'print.bogus'"),
        (["consume", "T", "-n", "0"], "0 is not a record count"),
        (["consume", "T", "--timeout-ms", "-5"], "--timeout-ms"),
        (["consume", "T", "--timestamp", "-5"], "a time before 1970"),
        (["consume", "T", "--include", "x", "--topic", "y"], "not both"),
        (["consume", "T", "-X", "auto.offset.reset=sideways"], "expected earliest, latest or none"),
        (["produce", "T", "--property", "parse.key=yes"], "parse.key takes true or false"),
        (["produce", "T", "--property", "print.key=true"], "unknown property 'print.key'"),
        (["perf", "consume", "T", "--messages", "0"], "must be positive"),
    ],
)
def test_options_kafka_would_refuse_are_usage_errors(brook, args, message):
    result = brook.run(*args, input="", expect=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_max_messages_minus_one_is_unlimited_and_include_selects_topics(brook, tmp_path):
    prefix = unique("inc")
    for suffix in ("a", "b"):
        brook.run("produce", f"{prefix}-{suffix}", input=f"{suffix}1\n{suffix}2\n")
    brook.run("produce", f"other-{prefix}", input="x\n")
    result = brook.run("consume", "--include", f"{prefix}-.*", "--from-beginning", "--max-messages", -1, "-e")
    assert sorted(result.stdout.splitlines()) == ["a1", "a2", "b1", "b2"]
    assert "Processed a total of 4 messages" in result.stderr
    props = tmp_path / "consumer.properties"
    props.write_text("client.id=from-consumer-config\n")
    result = brook.run(
        "consume",
        f"{prefix}-a",
        "--from-beginning",
        "-e",
        "--isolation-level",
        "read_committed",
        "--consumer.config",
        props,
    )
    assert result.stdout.splitlines() == ["a1", "a2"]
    assert "no topic matches" in brook.run("consume", "--include", f"{prefix}-z.*", expect=1).stderr


def test_perf_consume_of_a_missing_topic_does_not_create_it(brook):
    name = unique("missing")
    result = brook.run("perf", "consume", name, "--messages", 1, expect=1)
    assert "Unknown topic" in result.stderr or "unknown topic" in result.stderr
    assert name not in brook.run("topic", "list").stdout
