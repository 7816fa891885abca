"""Topic administration through confluent-kafka's AdminClient, with Kafka's error codes."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, ElectionType, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)

from brook.records.batch import Compression, iter_batches
from brook.testing import BrookProcess
from tests.integration.helpers import consume_assigned, produce_all


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("admin")) as process:
        yield process


@pytest.fixture
def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def _error(future) -> KafkaError:
    with pytest.raises(KafkaException) as info:
        future.result(10)
    return info.value.args[0]


def test_create_validate_only_creates_nothing(admin):
    admin.create_topics([NewTopic("dry", 2, 1)], validate_only=True)["dry"].result(10)
    assert "dry" not in admin.list_topics(timeout=10).topics


def test_create_errors(admin):
    admin.create_topics([NewTopic("dup", 1, 1)])["dup"].result(10)
    assert (
        _error(admin.create_topics([NewTopic("dup", 1, 1)])["dup"]).code() == KafkaError.TOPIC_ALREADY_EXISTS
    )
    assert (
        _error(admin.create_topics([NewTopic("rf", 1, 3)])["rf"]).code()
        == KafkaError.INVALID_REPLICATION_FACTOR
    )
    assert (
        _error(admin.create_topics([NewTopic("bad/name", 1, 1)])["bad/name"]).code()
        == KafkaError.TOPIC_EXCEPTION
    )
    bad_config = NewTopic("cfg", 1, 1, config={"no.such.config": "1"})
    assert _error(admin.create_topics([bad_config])["cfg"]).code() == KafkaError.INVALID_CONFIG
    bad_value = NewTopic("cfg2", 1, 1, config={"cleanup.policy": "sometimes"})
    assert _error(admin.create_topics([bad_value])["cfg2"]).code() == KafkaError.INVALID_CONFIG


def test_partitions_only_grow(admin, broker):
    admin.create_topics([NewTopic("grow", 2, 1)])["grow"].result(10)
    admin.create_partitions([NewPartitions("grow", 5)])["grow"].result(10)
    assert len(admin.list_topics(timeout=10).topics["grow"].partitions) == 5
    assert (
        _error(admin.create_partitions([NewPartitions("grow", 3)])["grow"]).code()
        == KafkaError.INVALID_PARTITIONS
    )
    assert (
        _error(admin.create_partitions([NewPartitions("nope", 3)])["nope"]).code()
        == KafkaError.UNKNOWN_TOPIC_OR_PART
    )
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("grow", value=b"p4", partition=4)
    assert producer.flush(10) == 0
    assert [m.value() for m in consume_assigned(broker.bootstrap, "grow", 4, 1)] == [b"p4"]


def test_delete_topic_removes_data(admin, broker):
    admin.create_topics([NewTopic("gone", 1, 1)])["gone"].result(10)
    produce_all(broker.bootstrap, "gone", [(None, b"x")] * 5)
    admin.delete_topics(["gone"])["gone"].result(10)
    assert "gone" not in admin.list_topics(timeout=10).topics
    assert not list(broker.data_dir.glob("gone-0"))
    assert _error(admin.delete_topics(["gone"])["gone"]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_alter_configs_apply_live_and_persist(admin):
    admin.create_topics([NewTopic("conf", 1, 1)])["conf"].result(10)
    resource = ConfigResource("topic", "conf")
    resource.add_incremental_config(
        ConfigEntry("retention.ms", "5000", incremental_operation=AlterConfigOpType.SET)
    )
    resource.add_incremental_config(
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)
    )
    next(iter(admin.incremental_alter_configs([resource]).values())).result(10)
    entries = next(iter(admin.describe_configs([ConfigResource("topic", "conf")]).values())).result(10)
    assert entries["retention.ms"].value == "5000"
    assert not entries["retention.ms"].is_default
    assert entries["cleanup.policy"].value == "delete,compact"
    bad = ConfigResource("topic", "conf")
    bad.add_incremental_config(
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)
    )
    assert (
        _error(next(iter(admin.incremental_alter_configs([bad]).values()))).code()
        == KafkaError.INVALID_CONFIG
    )


def test_describe_configs_lists_synonyms_most_specific_first(admin):
    config = {"retention.ms": "3600000"}
    admin.create_topics([NewTopic("synonyms", 1, 1, config=config)])["synonyms"].result(10)
    entries = next(iter(admin.describe_configs([ConfigResource("topic", "synonyms")]).values())).result(10)
    retention = entries["retention.ms"]
    assert [(name, s.value, s.source) for name, s in retention.synonyms.items()] == [
        ("retention.ms", "3600000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value),
        ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG.value),
    ]
    policy = entries["cleanup.policy"]
    assert [(name, s.value, s.source) for name, s in policy.synonyms.items()] == [
        ("log.cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG.value)
    ]


def test_compacted_topic_rejects_keyless_records(admin, broker):
    admin.create_topics([NewTopic("compacted", 1, 1, config={"cleanup.policy": "compact"})])[
        "compacted"
    ].result(10)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "retries": 0})
    errors = []
    # one batch each: Kafka rejects a whole batch that holds a keyless record
    producer.produce("compacted", value=b"no key", on_delivery=lambda err, _m: errors.append(err))
    producer.flush(10)
    producer.produce("compacted", key=b"k", value=b"keyed", on_delivery=lambda err, _m: errors.append(err))
    producer.flush(10)
    codes = sorted((e.code() if e else 0) for e in errors)
    assert codes == sorted([0, KafkaError.INVALID_RECORD])
    assert [m.key() for m in consume_assigned(broker.bootstrap, "compacted", 0, 1)] == [b"k"]


def test_log_append_time_topic_stamps_broker_time(admin, broker):
    config = {"message.timestamp.type": "LogAppendTime"}
    admin.create_topics([NewTopic("lat", 1, 1, config=config)])["lat"].result(10)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce("lat", value=b"x", timestamp=1000)
    producer.flush(10)
    (message,) = consume_assigned(broker.bootstrap, "lat", 0, 1)
    kind, timestamp = message.timestamp()
    assert kind == 2  # TIMESTAMP_LOG_APPEND_TIME
    assert timestamp > 1_600_000_000_000


def test_delete_records_moves_log_start(admin, broker):
    produce_all(broker.bootstrap, "trim", [(None, b"%d" % i) for i in range(10)])
    result = admin.delete_records([TopicPartition("trim", 0, 4)])
    low = next(iter(result.values())).result(10)
    assert low.low_watermark == 4
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "trim"})
    try:
        assert consumer.get_watermark_offsets(TopicPartition("trim", 0), timeout=10) == (4, 10)
    finally:
        consumer.close()
    assert [m.value() for m in consume_assigned(broker.bootstrap, "trim", 0, 6, offset=4)] == [
        b"%d" % i for i in range(4, 10)
    ]


def test_describe_cluster(admin, broker):
    cluster = admin.describe_cluster().result(10)
    assert [n.id for n in cluster.nodes] == [0]
    assert cluster.controller.id == 0
    assert len(cluster.cluster_id) == 22


def test_topic_compression_type_reencodes_batches(admin, broker):
    admin.create_topics([NewTopic("zstd-topic", 1, 1, config={"compression.type": "zstd"})])[
        "zstd-topic"
    ].result(10)
    produce_all(
        broker.bootstrap,
        "zstd-topic",
        [(b"k%d" % i, b"v" * 100) for i in range(20)],
        **{"compression.type": "gzip"},
    )
    segment = next((broker.data_dir / "zstd-topic-0").glob("*.log")).read_bytes()
    codecs = {header.compression for _, header in iter_batches(segment)}
    assert codecs == {Compression.zstd}
    assert [m.key() for m in consume_assigned(broker.bootstrap, "zstd-topic", 0, 20)] == [
        b"k%d" % i for i in range(20)
    ]


def test_deleting_topics_while_their_rolled_segments_flush_takes_no_dir_offline(admin, broker):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for round_ in range(5):
        name = f"churn-{round_}"
        admin.create_topics([NewTopic(name, 1, 1, config={"segment.bytes": "20000"})])[name].result(10)
        for _ in range(30):
            producer.produce(name, value=b"x" * 2000)
            producer.poll(0)
        assert producer.flush(10) == 0
        admin.delete_topics([name])[name].result(10)
    admin.create_topics([NewTopic("after-churn", 1, 1)])["after-churn"].result(10)
    produce_all(broker.bootstrap, "after-churn", [(None, b"ok")])
    assert "log dir offline" not in broker.log_text()


def test_delete_is_refused_when_topic_deletion_is_disabled(tmp_path):
    with BrookProcess(data_dir=tmp_path, overrides={"delete.topic.enable": "false"}) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(10)
        assert _error(admin.delete_topics(["kept"])["kept"]).code() == KafkaError.TOPIC_DELETION_DISABLED
        assert "kept" in admin.list_topics(timeout=10).topics


def test_one_node_never_needs_a_leader_election(admin):
    admin.create_topics([NewTopic("elect-one", 2, 1)])["elect-one"].result(10)
    tps = [TopicPartition("elect-one", 0), TopicPartition("elect-one", 1), TopicPartition("elect-none", 0)]
    for election in (ElectionType.PREFERRED, ElectionType.UNCLEAN):
        results = admin.elect_leaders(election, tps).result(10)
        assert results[tps[0]].code() == KafkaError.ELECTION_NOT_NEEDED
        assert results[tps[1]].code() == KafkaError.ELECTION_NOT_NEEDED
        assert results[tps[2]].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert admin.elect_leaders(ElectionType.PREFERRED, None).result(10) == {}
