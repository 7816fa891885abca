"""`brook cluster info` and `brook topic ...` against a real broker."""

from __future__ import annotations

import pytest

from tests.integration.cli_helpers import Brook, module_broker_fixture, table, unique

cli_broker = module_broker_fixture()


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


def test_cluster_info_text_and_json_agree(brook):
    doc = brook.json("cluster", "info")
    assert doc["cluster_id"]
    assert [b["port"] for b in doc["brokers"]] == [brook.broker.port]
    assert doc["brokers"][0]["controller"] is True
    text = brook.run("cluster", "info").stdout
    assert doc["cluster_id"] in text
    assert f"127.0.0.1  {brook.broker.port}" in text


def test_create_list_describe_delete(brook):
    name = unique("topics")
    out = brook.run(
        "topic", "create", name, "--partitions", 3, "--replication-factor", 1, "--config", "retention.ms=1234"
    )
    assert table(out.stdout) == [{"TOPIC": name, "STATUS": "OK"}]

    listed = {t["name"]: t for t in brook.json("topic", "list")}
    assert listed[name] == {"name": name, "partitions": 3, "replicas": 1, "internal": False}
    assert {"NAME": name, "PARTITIONS": "3", "REPLICAS": "1"} in table(brook.run("topic", "list").stdout)

    doc = brook.json("topic", "describe", name)
    assert doc["partition_count"] == 3
    assert [p["partition"] for p in doc["partitions"]] == [0, 1, 2]
    for p in doc["partitions"]:
        assert p["leader"] == 0
        assert p["replicas"] == [0]
        assert p["isr"] == [0]
        assert (p["log_start_offset"], p["log_end_offset"]) == (0, 0)
        assert p["size"] == 0  # from DescribeLogDirs: empty logs
    assert doc["configs"] == {"retention.ms": "1234"}

    text = brook.run("topic", "describe", "--topic", name).stdout
    partitions = table(text.split("\n\n")[-1])
    assert [r["PARTITION"] for r in partitions] == ["0", "1", "2"]
    assert all(r["LOG-END-OFFSET"] == "0" and r["SIZE"] == "0" for r in partitions)
    assert "retention.ms  1234" in text

    brook.run("topic", "delete", name)
    assert name not in {t["name"] for t in brook.json("topic", "list")}


def test_describe_shows_log_end_offsets_after_produce(brook):
    name = unique("ends")
    brook.run("topic", "create", name, "-p", 2)
    brook.run("produce", name, "--partition", 1, input="a\nb\nc\n")
    doc = brook.json("topic", "describe", name)
    assert [p["log_end_offset"] for p in doc["partitions"]] == [0, 3]
    sizes = [p["size"] for p in doc["partitions"]]
    assert sizes[0] == 0
    assert sizes[1] > 61  # a, b and c: at least one 61-byte batch header and their records


def test_kafka_style_flags(brook):
    name = unique("kafka-flags")
    brook.run(
        "topic", "create", "--topic", name, "--partitions", 2, "--bootstrap-server", brook.broker.bootstrap
    )
    assert brook.json("topic", "describe", "--topic", name)["partition_count"] == 2


def test_add_partitions_by_count_and_to_total(brook):
    name = unique("grow")
    brook.run("topic", "create", name, "-p", 1)
    brook.run("topic", "add-partitions", name, "--num", 2)
    assert brook.json("topic", "describe", name)["partition_count"] == 3
    brook.run("topic", "add-partitions", name, "--partitions", 5)
    assert brook.json("topic", "describe", name)["partition_count"] == 5
    result = brook.run("topic", "add-partitions", name, "--partitions", 2, expect=1)
    assert "partition" in result.stdout.lower()


def test_alter_config_set_and_delete(brook):
    name = unique("configs")
    brook.run("topic", "create", name)
    brook.run("topic", "alter-config", name, "--set", "retention.ms=60000", "--set", "cleanup.policy=compact")
    assert brook.json("topic", "describe", name)["configs"] == {
        "cleanup.policy": "compact",
        "retention.ms": "60000",
    }
    brook.run("topic", "alter-config", name, "--delete", "retention.ms")
    assert brook.json("topic", "describe", name)["configs"] == {"cleanup.policy": "compact"}


def test_yaml_listing(brook):
    name = unique("yaml")
    brook.run("topic", "create", name)
    text = brook.run("topic", "list", "--format", "yaml").stdout
    assert f"- name: {name}\n  partitions: 1\n  replicas: 1\n  internal: false\n" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["topic", "create", "bad-partitions", "--partitions", "0"], "INVALID_PARTITIONS"),
        (["topic", "create", "bad-config", "--config", "no.such.config=1"], "no.such.config"),
        (["topic", "describe", "no-such-topic"], "UNKNOWN_TOPIC_OR_PART"),
        (["topic", "delete", "no-such-topic"], "UNKNOWN_TOPIC_OR_PART"),
        (["topic", "alter-config", "no-such-topic", "--set", "retention.ms=1"], "UNKNOWN_TOPIC_OR_PART"),
    ],
)
def test_broker_errors_are_one_line_and_non_zero(brook, args, message):
    result = brook.run(*args, expect=None)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_create_existing_topic_fails_unless_if_not_exists(brook):
    name = unique("twice")
    brook.run("topic", "create", name)
    result = brook.run("topic", "create", name, expect=1)
    assert "TOPIC_ALREADY_EXISTS" in result.stdout
    brook.run("topic", "create", name, "--if-not-exists")


def test_debug_shows_the_traceback(brook):
    result = brook.run("topic", "describe", "no-such-topic", "--debug", expect=1)
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("brook: no-such-topic:")


def test_describe_without_a_name_describes_every_topic(brook):
    names = [unique("all-a"), unique("all-b")]
    for name in names:
        brook.run("topic", "create", name)
    described = {d["name"] for d in brook.json("topic", "describe")}
    assert set(names) <= described
