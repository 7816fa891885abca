"""`brook consume --group` and `brook group ...` against a real broker."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer

from tests.integration.cli_helpers import Brook, module_broker_fixture, table, unique
from tests.integration.helpers import wait_until

cli_broker = module_broker_fixture()

KAFKA_COLUMNS = [
    "GROUP",
    "TOPIC",
    "PARTITION",
    "CURRENT-OFFSET",
    "LOG-END-OFFSET",
    "LAG",
    "CONSUMER-ID",
    "HOST",
    "CLIENT-ID",
]


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


@pytest.fixture
def consumed_group(brook):
    """A topic with 13 + 5 records and an inactive group that committed 10 and 5 of them."""
    topic, group = unique("grouped"), unique("group")
    brook.run("topic", "create", topic, "--partitions", 2)
    brook.run("produce", topic, "--partition", 0, input="".join(f"a{i}\n" for i in range(10)))
    brook.run("produce", topic, "--partition", 1, input="".join(f"b{i}\n" for i in range(5)))
    out = brook.run("consume", topic, "--group", group, "--from-beginning", "--count", 15).stdout
    assert len(out.splitlines()) == 15
    brook.run("produce", topic, "--partition", 0, input="c0\nc1\nc2\n")
    return topic, group


def _describe(brook, group):
    lines = brook.run("group", "describe", group).stdout
    header = next(line for line in lines.splitlines() if line.strip())
    assert header.split() == KAFKA_COLUMNS
    return table(lines)


def test_describe_prints_kafkas_columns_with_offsets_and_lag(brook, consumed_group):
    topic, group = consumed_group
    rows = _describe(brook, group)
    assert [
        (r["TOPIC"], r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) for r in rows
    ] == [
        (topic, "0", "10", "13", "3"),
        (topic, "1", "5", "5", "0"),
    ]
    assert all(r["GROUP"] == group and r["CONSUMER-ID"] == "-" for r in rows)

    doc = brook.json("group", "describe", "--group", group)
    assert doc["state"] == "Empty"
    as_json = [
        (p["partition"], p["current_offset"], p["log_end_offset"], p["lag"]) for p in doc["partitions"]
    ]
    assert as_json == [(0, 10, 13, 3), (1, 5, 5, 0)]


def test_list_shows_groups_and_states(brook, consumed_group):
    _, group = consumed_group
    assert group in brook.run("group", "list").stdout.split()
    assert {"GROUP": group, "STATE": "Empty"} in table(brook.run("group", "list", "--state").stdout)
    assert {"group": group, "state": "Empty"} in brook.json("group", "list")


def test_active_member_is_described_and_blocks_reset(brook, consumed_group):
    topic, group = consumed_group
    consumer = Consumer(
        {
            "bootstrap.servers": brook.broker.bootstrap,
            "group.id": group,
            "client.id": "cli-test-client",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        wait_until(lambda: consumer.poll(0.2) is not None or consumer.assignment())
        rows = wait_until(lambda: [r for r in _describe(brook, group) if r["CONSUMER-ID"] != "-"])
        assert {r["CLIENT-ID"] for r in rows} == {"cli-test-client"}
        assert {r["PARTITION"] for r in rows} == {"0", "1"}
        members = table(brook.run("group", "describe", group, "--members").stdout)
        assert [(m["CLIENT-ID"], m["#PARTITIONS"]) for m in members] == [("cli-test-client", "2")]
        state = brook.run("group", "describe", group, "--state").stdout.splitlines()
        assert state[0].split() == [
            "GROUP",
            "COORDINATOR",
            "(ID)",
            "ASSIGNMENT-STRATEGY",
            "STATE",
            "#MEMBERS",
        ]
        assert state[1].split()[0] == group
        assert state[1].split()[-2:] == ["Stable", "1"]
        doc = brook.json("group", "describe", group)
        assert doc["state"] == "Stable"
        assert doc["members"][0]["partitions"] == [f"{topic}:0", f"{topic}:1"]
        result = brook.run(
            "group", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute", expect=1
        )
        assert "can only be reset if the group" in result.stderr
        assert "inactive" in result.stderr
    finally:
        consumer.close()


def test_reset_offsets_dry_run_then_execute(brook, consumed_group):
    topic, group = consumed_group

    def current():
        return [r["CURRENT-OFFSET"] for r in _describe(brook, group)]

    plan = brook.run("group", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert [(r["PARTITION"], r["NEW-OFFSET"]) for r in table(plan.stdout)] == [("0", "0"), ("1", "0")]
    assert "dry run" in plan.stderr
    assert current() == ["10", "5"]

    brook.run("group", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    assert current() == ["0", "0"]
    brook.run("group", "reset-offsets", group, "--all-topics", "--shift-by", 2, "--execute")
    assert current() == ["2", "2"]
    brook.run(
        "group", "reset-offsets", "--group", group, "--topic", f"{topic}:0", "--to-offset", 7, "--execute"
    )
    assert current() == ["7", "2"]
    brook.run("group", "reset-offsets", group, "--topic", topic, "--to-latest", "--execute")
    assert current() == ["13", "5"]
    rows = brook.json("group", "reset-offsets", group, "--topic", topic, "--shift-by", -100)
    assert [r["new_offset"] for r in rows] == [0, 0]

    brook.run(
        "group", "reset-offsets", group, "--topic", topic, "--to-datetime", "2000-01-01T00:00:00", "--execute"
    )
    assert current() == ["0", "0"]
    brook.run(
        "group", "reset-offsets", group, "--topic", topic, "--to-datetime", "2999-01-01T00:00:00", "--execute"
    )
    assert current() == ["13", "5"]


def test_consume_with_group_resumes_from_committed_offsets(brook, consumed_group):
    topic, group = consumed_group
    out = brook.run("consume", topic, "--group", group, "--count", 3, "-X", "client.id=cli-resume").stdout
    assert out.splitlines() == ["c0", "c1", "c2"]
    assert [r["LAG"] for r in _describe(brook, group)] == ["0", "0"]


def test_delete_group(brook, consumed_group):
    _, group = consumed_group
    out = brook.run("group", "delete", group).stdout
    assert out.strip() == f"Deletion of requested consumer groups ('{group}') was successful."
    assert group not in brook.run("group", "list").stdout.split()
    result = brook.run("group", "describe", group, expect=1)
    assert result.stderr.strip() == f"brook: Consumer group '{group}' does not exist."


def test_group_errors(brook):
    result = brook.run("group", "delete", "no-such-group", expect=1)
    assert "no-such-group" in result.stdout
    result = brook.run("group", "reset-offsets", "g", "--topic", "t", expect=2)
    assert "exactly one of" in result.stderr


def test_consume_with_group_and_partition_commits_that_partition(brook, consumed_group):
    topic, _ = consumed_group
    other = unique("assigned")
    out = brook.run(
        "consume", topic, "--group", other, "--partition", 1, "--offset", "earliest", "-n", 4
    ).stdout
    assert out.splitlines() == ["b0", "b1", "b2", "b3"]
    rows = wait_until(lambda: _describe(brook, other))
    assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LAG"]) for r in rows] == [("1", "4", "1")]


def test_consume_timeout_ms_stops_an_idle_consumer(brook, consumed_group):
    topic, _ = consumed_group
    result = brook.run("consume", topic, "--partition", 1, "--from-beginning", "--timeout-ms", 500)
    assert result.stdout.splitlines() == [f"b{i}" for i in range(5)]
    assert "Processed a total of 5 messages" in result.stderr
