"""Deleting a topic removes its committed offsets from every group, and `brook group` never aborts on it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from brook.testing import BrookProcess
from tests.integration.cli_helpers import Brook, table
from tests.integration.helpers import wait_until


@pytest.fixture
def broker(tmp_path):
    # a broker of its own: the test restarts it
    with BrookProcess(data_dir=tmp_path / "data") as process:
        yield process


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """A simple (memberless) group's commit, as `kafka-consumer-groups.sh --reset-offsets` does."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """OffsetFetch of every committed offset of the group."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(15)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def test_deleted_topic_leaves_every_group_and_the_group_tools_keep_working(broker: Any) -> None:
    brook = Brook(broker)
    brook.run("topic", "create", "tdel", "--partitions", 2)
    brook.run("topic", "create", "tkeep")
    brook.run("produce", "tdel", "--partition", 1, input="a\nb\nc\n")
    brook.run("produce", "tkeep", input="x\ny\n")
    commit(broker.bootstrap, "gmix", {("tdel", 0): 0, ("tdel", 1): 2, ("tkeep", 0): 1})
    commit(broker.bootstrap, "gdel", {("tdel", 1): 2})
    assert committed(broker.bootstrap, "gdel") == {("tdel", 1): 2}

    brook.run("topic", "delete", "tdel")
    wait_until(lambda: committed(broker.bootstrap, "gmix") == {("tkeep", 0): 1})
    assert committed(broker.bootstrap, "gdel") == {}

    rows = table(brook.run("group", "describe", "gmix").stdout)
    assert [(r["TOPIC"], r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"]) for r in rows] == [
        ("tkeep", "0", "1", "2")
    ]
    assert table(brook.run("group", "describe", "gmix", "--state").stdout)[0]["STATE"] == "Empty"
    brook.run("group", "describe", "gmix", "--members")
    doc = brook.json("group", "describe", "gmix")
    assert [(p["topic"], p["current_offset"]) for p in doc["partitions"]] == [("tkeep", 1)]
    # the group that only had offsets on the deleted topic is gone, as in Kafka (Empty without offsets: Dead)
    assert "gdel" not in brook.run("group", "list").stdout.split()
    gone = brook.run("group", "describe", "gdel", expect=1)
    assert "Consumer group 'gdel' does not exist." in gone.stderr
    all_groups = table(brook.run("group", "describe", "--all-groups").stdout)
    assert [(r["GROUP"], r["TOPIC"]) for r in all_groups] == [("gmix", "tkeep")]
    reset = table(brook.run("group", "reset-offsets", "gmix", "--all-topics", "--to-earliest").stdout)
    assert [(r["TOPIC"], r["NEW-OFFSET"]) for r in reset] == [("tkeep", "0")]
    reset_all = brook.run(
        "group", "reset-offsets", "--all-groups", "--all-topics", "--to-latest", "--execute"
    )
    assert [(r["GROUP"], r["TOPIC"], r["NEW-OFFSET"]) for r in table(reset_all.stdout)] == [
        ("gmix", "tkeep", "2")
    ]

    # the tombstones are in __consumer_offsets: a restart replays them and the offsets stay gone
    broker.restart()
    assert wait_until(lambda: _committed_or_none(broker.bootstrap, "gmix"), timeout_s=30) == {("tkeep", 0): 2}
    assert committed(broker.bootstrap, "gdel") == {}

    # a topic created again under the same name starts without the old offsets
    brook.run("topic", "create", "tdel", "--partitions", 2)
    commit(broker.bootstrap, "gmix", {("tdel", 0): 0})
    assert committed(broker.bootstrap, "gmix") == {("tkeep", 0): 2, ("tdel", 0): 0}


def test_offsets_of_a_topic_deleted_without_tombstones_go_when_the_broker_loads_them(broker: Any) -> None:
    """A crash can lose the tombstones' append (the log was not on disk yet): the metadata is the single node's
    truth, so loading `__consumer_offsets` removes the offsets of every topic it no longer has."""
    brook = Brook(broker)
    brook.run("topic", "create", "tlost")
    brook.run("topic", "create", "tkeep")
    commit(broker.bootstrap, "glost", {("tlost", 0): 4, ("tkeep", 0): 0})
    broker.stop()
    path = broker.data_dir / "brook-metadata.json"
    doc = json.loads(path.read_text())
    del doc["topics"]["tlost"]  # deleted while its tombstones never reached the log
    path.write_text(json.dumps(doc))
    broker.start()
    assert wait_until(lambda: _committed_or_none(broker.bootstrap, "glost"), timeout_s=30) == {
        ("tkeep", 0): 0
    }
    assert broker.wait_for_log(r"removed 1 offsets of deleted topics tlost from __consumer_offsets")


def _committed_or_none(bootstrap: str, group: str) -> dict[tuple[str, int], int] | None:
    try:
        return committed(bootstrap, group)
    except Exception:  # noqa: BLE001 - the coordinator may still be loading after the restart
        return None
