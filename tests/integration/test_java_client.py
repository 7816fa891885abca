"""The Java client (org.apache.kafka:kafka-clients 4.4.0 and 3.9.2) against a real brook: idempotent producer with
every codec, consumer groups (range, cooperative-sticky, static membership), seek by timestamp, and AdminClient.

One driver JVM per client version (tests/integration/java_driver.py), one broker for the module; every test uses
topics and groups of its own. Groups use the classic protocol (group.protocol=consumer, KIP-848, is not in brook).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from brook.records.batch import iter_batches
from brook.testing import BrookProcess
from tests.integration.helpers import wait_until
from tests.integration.java_driver import JAVA_CLIENT_VERSIONS, JavaDriver, JavaError
from tests.integration.raw_client import RawClient

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")  # compression attribute bits 0..4, in this order
_names = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with BrookProcess(data_dir=tmp_path_factory.mktemp("brook")) as b:
        yield b


@pytest.fixture(scope="module", params=JAVA_CLIENT_VERSIONS)
def java(request: pytest.FixtureRequest, broker: BrookProcess) -> Iterator[JavaDriver]:
    driver = JavaDriver(request.param)
    try:
        assert driver.client_version == request.param
        driver.call("admin_open", config={"bootstrap.servers": broker.bootstrap})
        yield driver
    finally:
        driver.close()


@pytest.fixture
def names(java: JavaDriver) -> Any:
    """Fresh topic/group names for this test: names("topic") -> "topic-4.4.0-7"."""
    return lambda prefix: f"{prefix}-{java.version}-{next(_names)}"


def create_topic(java: JavaDriver, topic: str, partitions: int, **configs: str) -> str:
    created = java.admin(
        "create_topics", topics=[{"name": topic, "partitions": partitions, "configs": configs}]
    )
    assert created[topic]["error"] is None, created
    return str(created[topic]["topic_id"])


def open_consumer(java: JavaDriver, broker: BrookProcess, name: str, **config: Any) -> str:
    java.call(
        "consumer_open",
        name=name,
        config={
            "bootstrap.servers": broker.bootstrap,
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
            "client.id": name,
            "heartbeat.interval.ms": "500",  # members learn of a rebalance sooner than the default 3 s
            **{k: v for k, v in config.items() if k not in ("subscribe", "assign")},
        },
        **{k: v for k, v in config.items() if k in ("subscribe", "assign")},
    )
    return name


def read(java: JavaDriver, consumer: str, count: int, timeout_ms: int = 30_000) -> list[dict[str, Any]]:
    """Exactly `count` records from the consumer (fails on fewer), then checks nothing more arrived."""
    records = java.call("consumer_records", name=consumer, count=count, timeout_ms=timeout_ms)
    if len(records) != count:
        state = java.call("consumer_state", name=consumer)
        raise AssertionError(f"{consumer}: {len(records)} of {count} records; {state}\n{java.log()[-6000:]}")
    return records


def assignment(java: JavaDriver, consumer: str) -> set[tuple[str, int]]:
    return {(t, p) for t, p in java.call("consumer_state", name=consumer)["assignment"]}


def wait_assignments(
    java: JavaDriver, expected: dict[str, int], timeout_s: float = 60.0
) -> dict[str, set[Any]]:
    """Waits until each consumer holds the expected number of partitions, disjoint from the others'."""

    def settled() -> dict[str, set[Any]] | None:
        held = {c: assignment(java, c) for c in expected}
        sizes_ok = all(len(held[c]) == n for c, n in expected.items())
        disjoint = sum(len(s) for s in held.values()) == len(set().union(*held.values()))
        return held if sizes_ok and disjoint else None

    return wait_until(settled, timeout_s=timeout_s, interval_s=0.2)


def records_for(topic: str, count: int, tag: str) -> list[dict[str, Any]]:
    """Keyed records (keys repeat, so partitioning by key is checked), one with a null key; two headers each."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        key = None if i == count - 1 else f"key-{i % 7}"
        headers = [["n", str(i)], ["tag", tag]] if i % 5 else [["n", str(i)], ["empty", None]]
        out.append({"key": key, "value": f"{tag}-value-{i}-" + "x" * (i % 13), "headers": headers})
    return out


def by_partition(records: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        grouped.setdefault(r["partition"], []).append(r)
    return grouped


# --- 1. idempotent producer, every codec -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_idempotent_producer_every_codec_read_back_by_java_and_librdkafka(java, broker, names, codec):
    topic = names(f"codec-{codec}")
    create_topic(java, topic, 3)
    sent = records_for(topic, 40, codec)
    producer = {
        "bootstrap.servers": broker.bootstrap,
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": codec,
        "linger.ms": "20",
        "max.in.flight.requests.per.connection": "5",
    }
    acked = java.call("produce", config=producer, topic=topic, records=sent)
    assert not [m for m in acked if "error" in m]
    # A key always lands on the same partition (murmur2), and offsets are consecutive per partition in send order.
    expected: dict[int, list[tuple[Any, ...]]] = {}
    partition_of_key: dict[str, int] = {}
    for record, meta in zip(sent, acked, strict=True):
        if record["key"] is not None:
            assert partition_of_key.setdefault(record["key"], meta["partition"]) == meta["partition"]
        rows = expected.setdefault(meta["partition"], [])
        assert meta["offset"] == len(rows)
        headers = [tuple(h) for h in record["headers"]]
        rows.append((meta["offset"], record["key"], record["value"], headers))

    # brook keeps the batches as the producer wrote them: compressed with the codec, idempotent (a producer id,
    # sequences starting at 0 and following on batch after batch).
    for partition in expected:
        headers = _stored_batches(broker, topic, partition)
        assert {h.compression for h in headers} == {CODECS.index(codec)}
        assert len({h.producer_id for h in headers}) == 1
        assert headers[0].producer_id >= 0
        assert [h.base_sequence for h in headers] == [h.base_offset for h in headers]

    # The Java consumer reads back every record, in order, with its key, value, headers and offset.
    # (read_committed: without transactions the last stable offset is the high watermark)
    committed_only = {"isolation.level": "read_committed"}
    reader = open_consumer(
        java, broker, names("reader"), assign=[[topic, p] for p in range(3)], **committed_only
    )
    try:
        got = by_partition(read(java, reader, len(sent)))
    finally:
        java.call("consumer_close", name=reader)
    assert {
        p: [(r["offset"], r["key"], r["value"], [tuple(h) for h in r["headers"]]) for r in rows]
        for p, rows in got.items()
    } == expected

    # So does librdkafka (confluent-kafka).
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": names("rdk"), "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    rdk: dict[int, list[tuple[Any, ...]]] = {}
    deadline = time.monotonic() + 30
    try:
        while sum(len(v) for v in rdk.values()) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            key = None if msg.key() is None else msg.key().decode()
            headers = [(k, None if v is None else v.decode()) for k, v in msg.headers() or []]
            rdk.setdefault(msg.partition(), []).append((msg.offset(), key, msg.value().decode(), headers))
    finally:
        consumer.close()
    assert rdk == expected


@pytest.mark.parametrize(
    ("sent_as", "stored_as"), [("gzip", "lz4"), ("lz4", "snappy"), ("none", "zstd"), ("zstd", "gzip")]
)
def test_topic_compression_type_recompresses_what_the_java_producer_sent(
    java, broker, names, sent_as, stored_as
):
    """A topic's compression.type decides how brook stores batches, whatever the producer used: every codec brook
    writes itself is read back by the Java consumer."""
    topic = names(f"recompress-{stored_as}")
    create_topic(java, topic, 1, **{"compression.type": stored_as})
    sent = records_for(topic, 30, "re")
    config = {"bootstrap.servers": broker.bootstrap, "compression.type": sent_as, "linger.ms": "20"}
    acked = java.call("produce", config=config, topic=topic, records=[{**r, "partition": 0} for r in sent])
    assert [m.get("offset") for m in acked] == list(range(30))
    headers = _stored_batches(broker, topic, 0)
    assert {h.compression for h in headers} == {CODECS.index(stored_as)}
    assert next(h.base_offset for h in headers) == 0
    assert headers[-1].base_offset + headers[-1].last_offset_delta == 29
    reader = open_consumer(java, broker, names("re-reader"), assign=[[topic, 0]])
    try:
        got = read(java, reader, 30)
    finally:
        java.call("consumer_close", name=reader)
    assert [(r["offset"], r["key"], r["value"], [tuple(h) for h in r["headers"]]) for r in got] == [
        (i, r["key"], r["value"], [tuple(h) for h in r["headers"]]) for i, r in enumerate(sent)
    ]


def test_a_record_over_max_message_bytes_is_record_too_large(java, broker, names):
    """The broker refuses a batch over max.message.bytes with MESSAGE_TOO_LARGE: the Java producer reports
    RecordTooLargeException for that record, and the records around it are written."""
    topic = names("too-large")
    create_topic(java, topic, 1, **{"max.message.bytes": "100000"})
    config = {
        "bootstrap.servers": broker.bootstrap,
        "max.request.size": "1048576",
        "linger.ms": "0",
        "max.in.flight.requests.per.connection": "1",
    }
    records = [
        {"partition": 0, "key": "a", "value": "small"},
        {"partition": 0, "key": "b", "value": "x" * 200_000},
        {"partition": 0, "key": "c", "value": "small again"},
    ]
    acked = java.call("produce", config=config, topic=topic, records=records)
    assert acked[1]["error"]["type"] == "RecordTooLargeException"
    assert [m.get("offset") for m in (acked[0], acked[2])] == [0, 1]


def _stored_batches(broker: BrookProcess, topic: str, partition: int) -> list[Any]:
    """The headers of a partition's batches as brook serves them (a raw Fetch v4)."""
    raw = RawClient(broker.bootstrap)
    try:
        body = {
            "replica_id": -1,
            "max_wait": 0,
            "min_bytes": 1,
            "max_bytes": 1 << 20,
            "isolation_level": 0,
            "topics": [
                {
                    "topic": topic,
                    "partitions": [
                        {"partition": partition, "fetch_offset": 0, "partition_max_bytes": 1 << 20}
                    ],
                }
            ],
        }
        data = raw.request(1, 4, body).responses[0].partitions[0]
        assert data.error_code == 0
        return [header for _, header in iter_batches(data.records)]
    finally:
        raw.close()


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_idempotent_producer_across_a_broker_restart_writes_each_record_once(java, names, tmp_path, crash):
    """The broker restarts (or is killed) while the producer sends: it retries what had no answer, and the
    restarted broker, which rebuilt its producer state, keeps every record exactly once and in order."""
    topic = names("restart")
    with BrookProcess(data_dir=tmp_path / "brook") as own:
        config = {
            "bootstrap.servers": own.bootstrap,
            "acks": "all",
            "enable.idempotence": "true",
            "linger.ms": "0",
            "reconnect.backoff.max.ms": "200",
            "retry.backoff.ms": "50",
            "retry.backoff.max.ms": "200",
        }
        records = [{"partition": 0, "key": f"k{i}", "value": f"v{i}"} for i in range(120)]
        sending: dict[str, Any] = {}
        first = java.call("produce", name=topic, config=config, topic=topic, records=records[:1])
        assert first == [{"partition": 0, "offset": 0, "timestamp": first[0]["timestamp"]}]
        thread = threading.Thread(
            target=lambda: sending.update(
                acked=java.call("produce", name=topic, topic=topic, records=records[1:], pace_ms=10)
            )
        )
        thread.start()
        time.sleep(0.4)  # the restart lands in the middle of the stream (paced over ~1.2 s)
        assert thread.is_alive()  # still sending
        own.restart(crash=crash)
        thread.join(timeout=150)
        assert not thread.is_alive()
        java.call("producer_close", name=topic)
        acked = sending["acked"]
        assert not [m for m in acked if "error" in m]
        assert [m["offset"] for m in acked] == list(range(1, 120))

        reader = open_consumer(java, own, names("restart-reader"), assign=[[topic, 0]])
        try:
            got = read(java, reader, 120)
            assert [(r["offset"], r["value"]) for r in got] == [(i, f"v{i}") for i in range(120)]
            assert java.call("consumer_records", name=reader, count=1, timeout_ms=500) == []
        finally:
            java.call("consumer_close", name=reader)


# --- 2. consumer groups ------------------------------------------------------------------------------------------


def _produce(
    java: JavaDriver, broker: BrookProcess, topic: str, partitions: int, per_partition: int, tag: str
):
    records = [
        {"partition": p, "key": f"{tag}-{p}-{i}", "value": f"{tag}-{p}-{i}"}
        for i in range(per_partition)
        for p in range(partitions)
    ]
    config = {"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": "5"}
    acked = java.call("produce", config=config, topic=topic, records=records)
    assert not [m for m in acked if "error" in m]
    return acked


def _values(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["value"] for r in records)


def _expected_values(partitions: int, per_partition: int, tag: str) -> list[str]:
    return sorted(f"{tag}-{p}-{i}" for i in range(per_partition) for p in range(partitions))


def test_range_group_split_leave_join_commit_and_resume(java, broker, names):
    topic, group = names("range"), names("range-g")
    create_topic(java, topic, 4)
    config = {
        "group.id": group,
        "partition.assignment.strategy": "org.apache.kafka.clients.consumer.RangeAssignor",
    }
    first = open_consumer(java, broker, names("m1"), subscribe=[topic], **config)
    wait_assignments(java, {first: 4})
    second = open_consumer(java, broker, names("m2"), subscribe=[topic], **config)
    held = wait_assignments(java, {first: 2, second: 2})
    # The range assignor gives each member a contiguous range of partitions.
    for partitions in held.values():
        numbers = sorted(p for _, p in partitions)
        assert numbers in ([0, 1], [2, 3])
    _produce(java, broker, topic, 4, 5, "a")

    # Together the two read every record once; each only from its own partitions.
    got = {c: read(java, c, 10) for c in (first, second)}
    for c, records in got.items():
        assert {(topic, r["partition"]) for r in records} == held[c]
    assert _values(got[first] + got[second]) == _expected_values(4, 5, "a")
    for c in (first, second):
        java.call("consumer_commit", name=c)

    # The second leaves: the first takes all four partitions and reads what comes next from everywhere.
    java.call("consumer_close", name=second)
    wait_assignments(java, {first: 4})
    _produce(java, broker, topic, 4, 2, "b")
    assert _values(read(java, first, 8)) == _expected_values(4, 2, "b")
    java.call("consumer_commit", name=first)
    committed = java.call("consumer_committed", name=first, partitions=[[topic, p] for p in range(4)])
    assert committed == {f"{topic}/{p}": 7 for p in range(4)}
    java.call("consumer_close", name=first)

    # A restarted member resumes at the committed offsets: it reads only the records produced after them.
    _produce(java, broker, topic, 4, 1, "c")
    restarted = open_consumer(java, broker, names("m3"), subscribe=[topic], **config)
    try:
        resumed = read(java, restarted, 4)
        assert _values(resumed) == _expected_values(4, 1, "c")
        assert sorted(r["offset"] for r in resumed) == [7, 7, 7, 7]
        assert java.call("consumer_state", name=restarted)["buffered"] == 0
    finally:
        java.call("consumer_close", name=restarted)


def test_cooperative_sticky_moves_only_the_partitions_that_change_owner(java, broker, names):
    topic, group = names("coop"), names("coop-g")
    create_topic(java, topic, 4)
    config = {
        "group.id": group,
        "partition.assignment.strategy": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
    }
    first = open_consumer(java, broker, names("c1"), subscribe=[topic], **config)
    wait_assignments(java, {first: 4})
    events_before = len(java.call("consumer_state", name=first)["events"])
    second = open_consumer(java, broker, names("c2"), subscribe=[topic], **config)
    held = wait_assignments(java, {first: 2, second: 2})

    # Incremental rebalance: the first member gives up exactly the two partitions the second now owns, and is
    # never asked to revoke the two it keeps.
    new_events = java.call("consumer_state", name=first)["events"][events_before:]
    revoked = {(t, p) for e in new_events if e["type"] == "revoked" for t, p in e["partitions"]}
    assert revoked == held[second]
    assert not any(e["type"] == "lost" for e in new_events)

    # Records keep flowing to both; the second leaves and the first gets only its two partitions added.
    _produce(java, broker, topic, 4, 3, "a")
    got = {c: read(java, c, 6) for c in (first, second)}
    assert _values(got[first] + got[second]) == _expected_values(4, 3, "a")
    java.call("consumer_commit", name=second)
    mark = len(java.call("consumer_state", name=first)["events"])
    java.call("consumer_close", name=second)
    wait_assignments(java, {first: 4})
    later = java.call("consumer_state", name=first)["events"][mark:]
    assert not any(e["type"] in ("revoked", "lost") and e["partitions"] for e in later)
    added = {(t, p) for e in later if e["type"] == "assigned" for t, p in e["partitions"]}
    assert added == held[second]
    # The first resumes the second's partitions at the second's commits: nothing is read twice.
    _produce(java, broker, topic, 4, 1, "b")
    assert _values(read(java, first, 4)) == _expected_values(4, 1, "b")
    java.call("consumer_close", name=first)


def test_static_members_leave_and_rejoin_without_a_rebalance(java, broker, names):
    topic, group = names("static"), names("static-g")
    create_topic(java, topic, 4)
    base = {"group.id": group, "session.timeout.ms": "30000"}
    a = open_consumer(
        java, broker, names("sa"), subscribe=[topic], **base, **{"group.instance.id": "instance-a"}
    )
    b_name = names("sb")
    b = open_consumer(java, broker, b_name, subscribe=[topic], **base, **{"group.instance.id": "instance-b"})
    held = wait_assignments(java, {a: 2, b: 2})
    _produce(java, broker, topic, 4, 3, "a")
    assert _values(read(java, a, 6) + read(java, b, 6)) == _expected_values(4, 3, "a")
    java.call("consumer_commit", name=b)
    state_a = java.call("consumer_state", name=a)

    described = java.admin("describe_consumer_groups", ids=[group])[group]
    assert described["error"] is None
    assert sorted(m["instance_id"] for m in described["members"]) == ["instance-a", "instance-b"]

    # A static member that closes sends no LeaveGroup: it stays in the group, and nothing moves, until its
    # session times out.
    java.call("consumer_close", name=b)
    away = java.admin("describe_consumer_groups", ids=[group])[group]
    assert away["state"] == "Stable"
    assert sorted(m["instance_id"] for m in away["members"]) == ["instance-a", "instance-b"]
    b2 = open_consumer(
        java, broker, names("sb2"), subscribe=[topic], **base, **{"group.instance.id": "instance-b"}
    )
    wait_assignments(java, {a: 2, b2: 2})
    # Rejoining under the same group.instance.id gives the same partitions back, and the other member saw no
    # rebalance at all (same generation, no new callbacks).
    assert assignment(java, b2) == held[b]
    after = java.call("consumer_state", name=a)
    assert after["generation"] == state_a["generation"]
    assert after["events"] == state_a["events"]
    # The returning member resumes at its commits.
    _produce(java, broker, topic, 4, 1, "b")
    resumed = read(java, b2, 2)
    assert sorted(r["offset"] for r in resumed) == [3, 3]
    assert {(topic, r["partition"]) for r in resumed} == held[b]
    for c in (a, b2):
        java.call("consumer_close", name=c)


def test_offsets_for_times_and_seek(java, broker, names):
    topic = names("times")
    create_topic(java, topic, 2)
    base_ms = 1_700_000_000_000
    records = [
        {"partition": 0, "key": f"k{i}", "value": f"v{i}", "timestamp": base_ms + 1000 * i} for i in range(10)
    ]
    java.call("produce", config={"bootstrap.servers": broker.bootstrap}, topic=topic, records=records)
    # fetch limits of one byte: the broker still answers with the first batch (KIP-74), so reading goes on
    tiny = {"fetch.max.bytes": "1", "max.partition.fetch.bytes": "1"}
    reader = open_consumer(java, broker, names("seeker"), assign=[[topic, 0], [topic, 1]], **tiny)
    try:
        read(java, reader, 10)
        found = java.call(
            "consumer_offsets_for_times",
            name=reader,
            times=[[topic, 0, base_ms + 2500], [topic, 1, base_ms], [topic, 0, base_ms + 60_000]][:2],
            seek=True,
        )
        assert found[f"{topic}/0"]["offset"] == 3
        assert found[f"{topic}/0"]["timestamp"] == base_ms + 3000
        assert found[f"{topic}/1"] is None  # an empty partition has no record at or after the timestamp
        again = read(java, reader, 7)
        assert [(r["offset"], r["value"], r["timestamp"]) for r in again] == [
            (i, f"v{i}", base_ms + 1000 * i) for i in range(3, 10)
        ]
        # Past the last timestamp: no offset (null), and the admin client agrees.
        late = java.call("consumer_offsets_for_times", name=reader, times=[[topic, 0, base_ms + 60_000]])
        assert late == {f"{topic}/0": None}
        java.call("consumer_seek", name=reader, partition=[topic, 0], offset=8)
        assert [r["offset"] for r in read(java, reader, 2)] == [8, 9]
    finally:
        java.call("consumer_close", name=reader)


# --- 3. AdminClient ----------------------------------------------------------------------------------------------


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
    _produce(java, broker, topic, 3, 4, "a")
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
