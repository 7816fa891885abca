"""The Java AdminClient (kafka-clients 4.4.0 and 3.9.2) against a real brook: every admin API brook has, with Kafka's
exception types for errors."""

from __future__ import annotations

import pytest

from tests.integration.helpers import wait_until
from tests.integration.java.driver import JavaError
from tests.integration.java.helpers import (
    create_topic,
    open_consumer,
    produce,
    read,
)


def test_admin_create_describe_and_delete_topics(java, broker, names):
    topic, other = names("adm-topic"), names("adm-other")
    created = java.admin(
        "create_topics",
        topics=[
            {"name": topic, "partitions": 3, "replication_factor": 1, "configs": {"retention.ms": "3600000"}},
            {"name": other, "partitions": 1},
        ],
    )
    assert created[topic]["error"] is None
    assert created[other]["error"] is None
    assert created[topic]["num_partitions"] == 3
    assert created[topic]["replication_factor"] == 1
    assert created[topic]["configs"]["retention.ms"] == "3600000"
    assert created[other]["configs"]["retention.ms"] == "604800000"
    topic_id = created[topic]["topic_id"]

    # Kafka's errors, as Kafka's exception types.
    again = java.admin("create_topics", topics=[{"name": topic, "partitions": 1}])
    assert again[topic]["error"] == "TopicExistsException"
    bad = java.admin(
        "create_topics",
        topics=[
            {"name": names("zero"), "partitions": 0},
            {"name": names("rf"), "partitions": 1, "replication_factor": 3},
            {"name": "bad/name", "partitions": 1},
            {"name": names("cfg"), "partitions": 1, "configs": {"no.such.config": "1"}},
        ],
    )
    assert sorted(v["error"] for v in bad.values()) == sorted(
        [
            "InvalidPartitionsException",
            "InvalidReplicationFactorException",
            "InvalidTopicException",
            "InvalidConfigurationException",
        ]
    )
    dry = names("dry")
    checked = java.admin("create_topics", topics=[{"name": dry, "partitions": 2}], validate_only=True)
    assert checked[dry]["error"] is None
    assert checked[dry]["num_partitions"] == 2
    assert dry not in java.admin("list_topics")

    listed = java.admin("list_topics")
    assert {topic, other} <= set(listed)
    assert not any(name.startswith("__") for name in listed)

    described = java.admin("describe_topics", names=[topic, names("missing")])
    assert described[topic]["topic_id"] == topic_id
    assert described[topic]["internal"] is False
    assert [p["partition"] for p in described[topic]["partitions"]] == [0, 1, 2]
    assert all(
        p["leader"] == 0 and p["replicas"] == [0] and p["isr"] == [0] for p in described[topic]["partitions"]
    )
    missing = next(k for k in described if k != topic)
    assert described[missing]["error"] == "UnknownTopicOrPartitionException"

    # More partitions; fewer is InvalidPartitionsException, an unknown topic UnknownTopicOrPartitionException.
    grown = java.admin("create_partitions", counts={topic: 5, other: 1, names("nope"): 2})
    assert grown[topic]["error"] is None
    assert grown[other]["error"] == "InvalidPartitionsException"
    assert (
        next(v for k, v in grown.items() if k not in (topic, other))["error"]
        == "UnknownTopicOrPartitionException"
    )
    wait_until(lambda: len(java.admin("describe_topics", names=[topic])[topic]["partitions"]) == 5)

    deleted = java.admin("delete_topics", names=[topic, other])
    assert deleted == {topic: {"error": None}, other: {"error": None}}
    wait_until(lambda: not {topic, other} & set(java.admin("list_topics")))
    assert java.admin("delete_topics", names=[topic])[topic]["error"] == "UnknownTopicOrPartitionException"


def test_admin_topic_ids_name_the_same_topic(java, broker, names):
    topic = names("ids")
    topic_id = create_topic(java, topic, 2)
    # Metadata v12 (Kafka 3.1, KIP-516) looks topics up by id; an unknown id is UnknownTopicIdException.
    by_id = java.admin("describe_topics_by_id", ids=[topic_id])
    assert by_id[topic_id]["error"] is None
    assert by_id[topic_id]["name"] == topic
    assert len(by_id[topic_id]["partitions"]) == 2
    unknown = "AAAAAAAAAAAAAAAAAAAAAQ"
    assert java.admin("describe_topics_by_id", ids=[unknown])[unknown]["error"] == "UnknownTopicIdException"


def test_admin_describe_and_incrementally_alter_configs(java, broker, names):
    topic = names("cfg")
    create_topic(java, topic, 1, **{"cleanup.policy": "compact"})
    described = java.admin("describe_configs", resources=[["TOPIC", topic], ["BROKER", "0"]])
    configs = described[topic]["configs"]
    assert configs["cleanup.policy"]["value"] == "compact"
    assert configs["cleanup.policy"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    assert configs["retention.ms"]["value"] == "604800000"
    assert configs["retention.ms"]["source"] in ("DEFAULT_CONFIG", "STATIC_BROKER_CONFIG")
    broker_configs = described["0"]["configs"]
    assert broker_configs["num.partitions"]["value"] == "1"
    assert broker_configs["offsets.topic.num.partitions"]["value"] == "50"

    altered = java.admin(
        "incremental_alter_configs",
        resources=[
            {
                "resource": ["TOPIC", topic],
                "ops": [["retention.ms", "86400000", "SET"], ["cleanup.policy", None, "DELETE"]],
            }
        ],
    )
    assert altered == {topic: {"error": None}}
    after = java.admin("describe_configs", resources=[["TOPIC", topic]])[topic]["configs"]
    assert after["retention.ms"]["value"] == "86400000"
    assert after["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    assert after["cleanup.policy"]["value"] == "delete"
    assert after["cleanup.policy"]["source"] != "DYNAMIC_TOPIC_CONFIG"
    appended = java.admin(
        "incremental_alter_configs",
        resources=[{"resource": ["TOPIC", topic], "ops": [["cleanup.policy", "compact", "APPEND"]]}],
    )
    assert appended == {topic: {"error": None}}
    after = java.admin("describe_configs", resources=[["TOPIC", topic]])[topic]["configs"]
    assert after["cleanup.policy"]["value"] == "delete,compact"

    missing = names("missing")
    errors = java.admin(
        "incremental_alter_configs",
        resources=[
            {"resource": ["TOPIC", missing], "ops": [["retention.ms", "1000", "SET"]]},
        ],
    )
    assert errors[missing]["error"] == "UnknownTopicOrPartitionException"
    invalid = java.admin(
        "incremental_alter_configs",
        resources=[{"resource": ["TOPIC", topic], "ops": [["retention.ms", "not-a-number", "SET"]]}],
    )
    assert invalid[topic]["error"] == "InvalidConfigurationException"
    described = java.admin("describe_configs", resources=[["TOPIC", missing]])
    assert described[missing]["error"] == "UnknownTopicOrPartitionException"


def test_admin_consumer_groups_and_their_offsets(java, broker, names):
    topic, group = names("grp"), names("grp-g")
    create_topic(java, topic, 3)
    produce(java, broker, topic, 3, 4, "a")
    member = open_consumer(java, broker, names("gm"), subscribe=[topic], **{"group.id": group})
    read(java, member, 12)
    java.call("consumer_commit", name=member)

    # A group with a member: listed Stable, described with its member and assignment; it cannot be deleted.
    assert java.admin("list_consumer_groups")[group] == "Stable"
    assert "__consumer_offsets" not in java.admin("list_topics")
    assert "__consumer_offsets" in java.admin("list_topics", internal=True)
    described = java.admin("describe_consumer_groups", ids=[group])[group]
    assert described["error"] is None
    assert described["state"] == "Stable"
    assert described["assignor"] == "range"
    assert described["coordinator"] == 0
    [m] = described["members"]
    assert m["client_id"] == member
    assert m["assignment"] == [[topic, 0], [topic, 1], [topic, 2]]
    assert java.admin("delete_consumer_groups", ids=[group])[group]["error"] == "GroupNotEmptyException"
    altered = java.admin("alter_consumer_group_offsets", group=group, offsets=[[topic, 0, 1]])
    assert altered[f"{topic}/0"]["error"] == "UnknownMemberIdException"
    java.call("consumer_close", name=member)

    # Empty now: offsets can be listed, moved and deleted, and then the group itself.
    assert java.admin("list_consumer_groups")[group] == "Empty"
    assert java.admin("describe_consumer_groups", ids=[group])[group]["state"] == "Empty"
    assert java.admin("list_consumer_group_offsets", group=group) == {f"{topic}/{p}": 4 for p in range(3)}
    altered = java.admin("alter_consumer_group_offsets", group=group, offsets=[[topic, 0, 1], [topic, 2, 3]])
    assert altered == {f"{topic}/0": {"error": None}, f"{topic}/2": {"error": None}}
    assert java.admin("list_consumer_group_offsets", group=group) == {
        f"{topic}/0": 1,
        f"{topic}/1": 4,
        f"{topic}/2": 3,
    }
    removed = java.admin("delete_consumer_group_offsets", group=group, partitions=[[topic, 1]])
    assert removed[f"{topic}/1"]["error"] is None
    assert removed["all"]["error"] is None
    assert java.admin("list_consumer_group_offsets", group=group) == {f"{topic}/0": 1, f"{topic}/2": 3}

    # A consumer of the group resumes at the moved offsets (partition 1 has none left: earliest).
    resumed = open_consumer(java, broker, names("gm2"), subscribe=[topic], **{"group.id": group})
    try:
        got = read(java, resumed, 3 + 4 + 1)
        assert sorted((r["partition"], r["offset"]) for r in got) == sorted(
            [(0, o) for o in range(1, 4)] + [(1, o) for o in range(4)] + [(2, 3)]
        )
    finally:
        java.call("consumer_close", name=resumed)

    assert java.admin("delete_consumer_groups", ids=[group]) == {group: {"error": None}}
    assert group not in java.admin("list_consumer_groups")
    unknown = names("no-group")
    assert java.admin("delete_consumer_groups", ids=[unknown])[unknown]["error"] == "GroupIdNotFoundException"
    # DescribeGroups up to v5 (Kafka 3.x) answers an unknown group as Dead, without an error (v6 has one, KIP-1043)
    dead = java.admin("describe_consumer_groups", ids=[unknown])[unknown]
    assert (dead["error"], dead["state"], dead["members"]) == (None, "Dead", [])


def test_admin_list_offsets_delete_records_and_log_dirs(java, broker, names):
    topic = names("recs")
    create_topic(java, topic, 2)
    base_ms = 1_700_000_000_000
    records = [
        {"partition": 0, "key": None, "value": f"v{i}", "timestamp": base_ms + 10 * i} for i in range(10)
    ]
    java.call("produce", config={"bootstrap.servers": broker.bootstrap}, topic=topic, records=records)
    t0, t1 = [topic, 0], [topic, 1]
    listed = java.admin(
        "list_offsets",
        specs=[[*t0, "earliest"], [*t1, "latest"]],
    )
    assert listed[f"{topic}/0"]["offset"] == 0
    assert listed[f"{topic}/1"]["offset"] == 0
    latest = java.admin("list_offsets", specs=[[*t0, "latest"]])[f"{topic}/0"]
    assert latest["offset"] == 10
    by_time = java.admin("list_offsets", specs=[[*t0, base_ms + 35]])[f"{topic}/0"]
    assert (by_time["offset"], by_time["timestamp"]) == (4, base_ms + 40)
    newest = java.admin("list_offsets", specs=[[*t0, "max_timestamp"]])[f"{topic}/0"]
    assert (newest["offset"], newest["timestamp"]) == (9, base_ms + 90)
    none = java.admin("list_offsets", specs=[[*t0, base_ms + 1000]])[f"{topic}/0"]
    assert (none["error"], none["offset"]) == (None, -1)

    # deleteRecords moves the log start offset; what is below it is gone for every reader.
    deleted = java.admin("delete_records", offsets=[[*t0, 4]])
    assert deleted[f"{topic}/0"] == {"error": None, "low_watermark": 4}
    assert java.admin("list_offsets", specs=[[*t0, "earliest"]])[f"{topic}/0"]["offset"] == 4
    beyond = java.admin("delete_records", offsets=[[*t0, 50]])
    assert beyond[f"{topic}/0"]["error"] == "OffsetOutOfRangeException"
    # An unknown topic: listOffsets fails at once; deleteRecords retries its leader lookup until its timeout
    # (Kafka's PartitionLeaderStrategy tolerates unknown topics for it), so the caller sees a TimeoutException.
    nope = names("nope")
    assert java.admin("list_offsets", specs=[[nope, 0, "latest"]])[f"{nope}/0"]["error"] == (
        "UnknownTopicOrPartitionException"
    )
    unknown = java.admin("delete_records", offsets=[[nope, 0, 1]], timeout_ms=1500)
    assert unknown[f"{nope}/0"]["error"] == "TimeoutException"
    reader = open_consumer(java, broker, names("after-delete"), assign=[t0])
    try:
        # a position below the log start offset is OFFSET_OUT_OF_RANGE: the consumer resets to earliest (4)
        java.call("consumer_seek", name=reader, partition=t0, offset=1)
        assert [r["offset"] for r in read(java, reader, 6)] == list(range(4, 10))
    finally:
        java.call("consumer_close", name=reader)

    # describeLogDirs: the broker's one log dir holds both partitions; partition 0 has bytes, 1 none.
    dirs = java.admin("describe_log_dirs", brokers=[0])["0"]
    [(path, described)] = [(p, d) for p, d in dirs.items() if f"{topic}/0" in d["replicas"]]
    assert described["error"] is None
    assert described["replicas"][f"{topic}/0"]["size"] > 0
    assert described["replicas"][f"{topic}/1"]["size"] == 0
    assert path.startswith("/")


def test_admin_describe_cluster(java, broker):
    cluster = java.admin("describe_cluster")
    assert cluster["controller"] == 0
    assert cluster["nodes"] == [{"id": 0, "host": "127.0.0.1", "port": broker.port}]
    assert cluster["cluster_id"]


def test_admin_client_quotas(java, broker, names):
    user = names("user")
    java.admin(
        "alter_client_quotas",
        alterations=[
            {"entity": {"user": user}, "ops": {"producer_byte_rate": 1048576, "consumer_byte_rate": 2048}}
        ],
    )
    found = java.admin("describe_client_quotas", components=[["user", user]], strict=True)
    assert found == [
        {"entity": {"user": user}, "quotas": {"consumer_byte_rate": 2048.0, "producer_byte_rate": 1048576.0}}
    ]
    java.admin(
        "alter_client_quotas", alterations=[{"entity": {"user": user}, "ops": {"consumer_byte_rate": None}}]
    )
    found = java.admin("describe_client_quotas", components=[["user", user]], strict=True)
    assert found == [{"entity": {"user": user}, "quotas": {"producer_byte_rate": 1048576.0}}]
    with pytest.raises(JavaError) as bad:
        java.admin(
            "alter_client_quotas", alterations=[{"entity": {"user": user}, "ops": {"no_such_quota": 1}}]
        )
    assert bad.value.type == "InvalidRequestException"
    java.admin(
        "alter_client_quotas", alterations=[{"entity": {"user": user}, "ops": {"producer_byte_rate": None}}]
    )
    assert java.admin("describe_client_quotas", components=[["user", user]], strict=True) == []
