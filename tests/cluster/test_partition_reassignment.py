"""Partition reassignment (KIP-455) as a Kafka user does it: Kafka's own kafka-reassign-partitions tool and the
AlterPartitionReassignments / ListPartitionReassignments APIs against three real brooks on a real ZooKeeper, with
real clients producing and reading.

The rules are Kafka's: while a reassignment runs, the partition's replicas are target + original replicas and
ListPartitionReassignments shows what is being added and removed; it completes once every target replica is in
the ISR, then the replicas are the target (in its order), the leader is a target replica and the removed brokers
delete their copy. No acknowledged record is lost, duplicated or reordered and offsets stay the same.

One cluster serves the whole module (a cluster start costs seconds); each test uses topics of its own and starts
with every broker up, every link healed and no reassignment in progress."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookCluster
from brook.testing.zookeeper import ZooKeeperProcess
from tests.cluster.cluster_faults import cluster_on
from tests.cluster.faults import AckedProducer, assert_every_acked_record_once_in_place, read_partition
from tests.cluster.reassignment import (
    QUIET,
    THROTTLE_CONFIGS,
    Ongoing,
    ReassignTool,
    alter_reassignments,
    list_reassignments,
    metadata,
    partition_dir,
    read_keyed,
    rollback_plan,
    throttles,
    wait_for,
    wait_high_watermark,
)
from tests.integration.raw_client import RawClient

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
NO_REASSIGNMENT_IN_PROGRESS = 85

ALL = [0, 1, 2]


@pytest.fixture(scope="module")
def shared_cluster(
    zookeeper_server: ZooKeeperProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrookCluster]:
    chroot = f"{zookeeper_server.connect}/brook-reassign-{uuid.uuid4().hex[:8]}"
    with cluster_on(chroot, tmp_path_factory.mktemp("reassign")) as cluster:
        yield cluster


@pytest.fixture
def cluster(shared_cluster: BrookCluster) -> Iterator[BrookCluster]:
    """The module's cluster with all three brokers up, no cut link, no reassignment left by an earlier test."""
    cluster = shared_cluster
    cluster.heal()
    for node_id in ALL:
        cluster.resume(node_id)
        if node_id not in cluster.up():
            if cluster.broker(node_id).is_running():
                cluster.terminate(node_id)
            cluster.start_broker(node_id)
    wait_for(cluster, lambda: cluster.registered_brokers() == ALL, 60, "all three brokers registered")
    exits_before = len(cluster.unexpected_exits)
    yield cluster
    # a test that failed midway may leave a reassignment running: cancel it, or the tool refuses the next one
    with contextlib.suppress(Exception):
        cluster.heal()
        if leftover := list_reassignments(cluster):
            alter_reassignments(cluster, dict.fromkeys(leftover))
    assert cluster.unexpected_exits[exits_before:] == [], "a broker exited on its own"


def create_on(cluster: BrookCluster, topic: str, replicas: list[int], **config: str) -> None:
    """One partition on exactly these replicas (the first leads); waits until they are all in the ISR."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
    admin.create_topics([NewTopic(topic, 1, replica_assignment=[replicas], config=config)])[topic].result(30)
    wait_for(
        cluster,
        lambda: (v := metadata(cluster, topic)).replicas == replicas and sorted(v.isr) == sorted(replicas),
        30,
        f"{topic} on {replicas} with a full ISR",
    )


def produce_keyed(
    cluster: BrookCluster, topic: str, records: list[tuple[bytes, bytes]]
) -> list[tuple[int, bytes, bytes]]:
    """acks=all, idempotent, to partition 0; (offset, key, value) of every record, all acknowledged."""
    producer = Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            **QUIET,
        }
    )
    acked: list[tuple[int, bytes, bytes]] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: object) -> None:
        if err is None:
            acked.append((msg.offset(), msg.key(), msg.value()))  # type: ignore[attr-defined]
        else:
            errors.append(err)

    for key, value in records:
        producer.produce(topic, value, key, partition=0, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0, "records neither acknowledged nor failed"
    assert errors == [], errors[:3]
    return sorted(acked)


def completed(cluster: BrookCluster, topic: str, target: list[int]) -> bool:
    """ListPartitionReassignments no longer lists the partition and Metadata shows the target replicas."""
    return (topic, 0) not in list_reassignments(cluster) and metadata(cluster, topic).replicas == target


def assert_settled_on(cluster: BrookCluster, topic: str, target: list[int], removed: list[int]) -> None:
    """After completion: replicas == target in its order, ISR within the target (and, soon, all of it), the leader
    a target replica, the removed brokers' copies deleted, nothing listed as in progress."""
    view = wait_for(
        cluster, lambda: (v := metadata(cluster, topic)).replicas == target and v, 30, f"{topic} on {target}"
    )
    assert set(view.isr) <= set(target), view
    assert view.leader in target, view
    wait_for(
        cluster, lambda: sorted(metadata(cluster, topic).isr) == sorted(target), 30, f"{topic}: ISR {target}"
    )
    for node_id in removed:
        wait_for(
            cluster,
            lambda n=node_id: not partition_dir(cluster, n, topic).exists(),
            30,
            f"broker {node_id} deleting its copy of {topic}-0",
        )
    for node_id in target:
        assert partition_dir(cluster, node_id, topic).is_dir(), f"broker {node_id} holds no {topic}-0"
    assert list_reassignments(cluster) == {}


def test_kafka_tool_moves_a_partition_to_other_brokers_keeping_every_record(cluster, tmp_path):
    """kafka-reassign-partitions --execute / --verify / --list moves an RF=1 partition from broker 0 to [1, 2]."""
    topic = "moved"
    create_on(cluster, topic, [0])
    records = [(b"key-%04d" % i, b"value-%04d-" % i + b"x" * 100) for i in range(1000)]
    acked = produce_keyed(cluster, topic, records)
    assert acked == [(i, k, v) for i, (k, v) in enumerate(records)]

    tool = ReassignTool(cluster, tmp_path)
    plan = tool.plan({(topic, 0): [1, 2]})
    started = tool.execute(plan)
    assert rollback_plan(started) == {(topic, 0): [0]}, started.describe()
    assert started.lines[-1] == f"Successfully started partition reassignment for {topic}-0", (
        started.describe()
    )

    verified = tool.verify_until_completed(plan, [f"{topic}-0"], timeout_s=60)
    assert verified.lines[:2] == [
        "Status of partition reassignment:",
        f"Reassignment of partition {topic}-0 is completed.",
    ]
    assert f"Clearing topic-level throttles on topic {topic}" in verified.lines, verified.describe()

    assert_settled_on(cluster, topic, [1, 2], removed=[0])
    assert read_keyed(cluster.bootstrap, topic) == acked  # same offsets, keys, values, order
    assert tool.list().lines == ["No partition reassignments found."]


def test_raising_the_replication_factor_under_load_puts_every_acknowledged_record_on_the_new_replicas(
    cluster, tmp_path
):
    """[0] -> [0, 1, 2] while an acks=all idempotent producer keeps producing; then the original broker is killed
    and a consumer reads every acknowledged record exactly once, in order, from the new replicas."""
    topic = "grown"
    create_on(cluster, topic, [0])
    producer = AckedProducer(cluster.bootstrap, topic).start()
    try:
        producer.wait_acked(500)
        tool = ReassignTool(cluster, tmp_path)
        tool.execute(tool.plan({(topic, 0): [0, 1, 2]}))
        wait_for(cluster, lambda: completed(cluster, topic, [0, 1, 2]), 90, "replication factor 3")
        at_completion = len(producer.acked)
        producer.wait_acked(at_completion + 300)  # and producing goes on afterwards
    finally:
        producer.stop()
    assert producer.errors == []
    assert_settled_on(cluster, topic, [0, 1, 2], removed=[])

    epoch = cluster.partition_state(topic, 0)["leader_epoch"]
    cluster.kill(0)  # SIGKILL: only the new replicas hold the records now
    wait_for(
        cluster,
        lambda: (s := cluster.partition_state(topic, 0))["leader_epoch"] > epoch and s["leader"] in (1, 2),
        60,
        "a new replica leading",
    )
    wait_high_watermark(cluster, topic, max(offset for _, offset in producer.acked) + 1)
    log = read_partition(cluster.bootstrap, topic)
    assert_every_acked_record_once_in_place(producer.acked, log)
    assert [offset for offset, _ in log] == sorted(offset for _, offset in producer.acked)


def test_moving_the_leader_away_under_load_loses_nothing(cluster, tmp_path):
    """[0, 1] -> [1, 2] while an acks=all producer keeps producing: held in progress first (broker 2 cut off from
    the others), the partition is on target + original replicas with 2 being added and 0 being removed; once
    broker 2 catches up, broker 0 (the leader) leaves the replicas, a target replica leads and every acknowledged
    record stays once, in order, at its offset."""
    topic = "relocated"
    create_on(cluster, topic, [0, 1], **{"min.insync.replicas": "2"})
    producer = AckedProducer(cluster.bootstrap, topic).start()
    tool = ReassignTool(cluster, tmp_path)
    try:
        producer.wait_acked(500)
        cluster.partition(2, from_=[0, 1])
        try:
            tool.execute(tool.plan({(topic, 0): [1, 2]}))
            ongoing = wait_for(
                cluster, lambda: list_reassignments(cluster).get((topic, 0)), 30, "in progress"
            )
            assert ongoing == Ongoing(replicas=[1, 2, 0], adding=[2], removing=[0])
            assert tool.list().lines == [
                "Current partition reassignments:",
                f"{topic}-0: replicas: 1,2,0. adding: 2. removing: 0.",
            ]
            view = wait_for(
                cluster, lambda: (v := metadata(cluster, topic)).replicas == [1, 2, 0] and v, 30, "[1, 2, 0]"
            )
            # broker 2 cannot be in the ISR; 0 leads, unless the periodic preferred-leader check (Kafka's
            # auto.leader.rebalance.enable, every 300 s) fell in this window and made 1, now first, lead
            assert sorted(view.isr) == [0, 1], view
            assert view.leader in (0, 1), view
            producer.wait_acked(len(producer.acked) + 200)  # acks=all goes on meanwhile (ISR 0, 1)
        finally:
            cluster.heal()
        wait_for(cluster, lambda: completed(cluster, topic, [1, 2]), 90, "moved to [1, 2]")
        producer.wait_acked(len(producer.acked) + 300)
    finally:
        producer.stop()
    assert producer.errors == []
    assert_settled_on(cluster, topic, [1, 2], removed=[0])
    assert metadata(cluster, topic).leader in (1, 2)
    wait_high_watermark(cluster, topic, max(offset for _, offset in producer.acked) + 1)
    log = read_partition(cluster.bootstrap, topic)
    assert_every_acked_record_once_in_place(producer.acked, log)
    assert [offset for offset, _ in log] == sorted(offset for _, offset in producer.acked)


def test_cancel_reverts_an_ongoing_reassignment_to_the_original_replicas(cluster, tmp_path):
    """Broker 2 is cut off from the other brokers (it stays registered, so Kafka accepts it as a target, but it
    cannot catch up): [0] -> [0, 2], started with a replication throttle, stays in progress, shown as such,
    until --cancel reverts it to [0] and clears the throttles."""
    topic = "cancelled"
    create_on(cluster, topic, [0])
    acked = produce_keyed(cluster, topic, [(b"k%03d" % i, b"v%03d" % i) for i in range(200)])
    tool = ReassignTool(cluster, tmp_path)
    plan = tool.plan({(topic, 0): [0, 2]})
    cluster.partition(2, from_=[0, 1])
    try:
        started = tool.execute(plan, "--throttle", "10000000")
        assert "The inter-broker throttle limit was set to 10000000 B/s" in started.lines, started.describe()
        # Kafka's tool throttles the partition's sources as leaders, its new replicas as followers, on the
        # brokers that take part
        throttled = {
            "topic": {
                "leader.replication.throttled.replicas": "0:0",
                "follower.replication.throttled.replicas": "0:2",
            },
            "broker 0": dict.fromkeys(THROTTLE_CONFIGS["broker"], "10000000"),
            "broker 1": {},
            "broker 2": dict.fromkeys(THROTTLE_CONFIGS["broker"], "10000000"),
        }
        assert throttles(cluster, topic) == throttled
        ongoing = wait_for(
            cluster, lambda: list_reassignments(cluster).get((topic, 0)), 30, "listed in progress"
        )
        assert ongoing == Ongoing(replicas=[0, 2], adding=[2], removing=[])
        # the replica being added exists on broker 2 (it cannot fetch anything into it)
        wait_for(
            cluster, lambda: partition_dir(cluster, 2, topic).is_dir(), 30, "broker 2 holding a new replica"
        )
        assert list_reassignments(cluster, {topic: [0]}) == {(topic, 0): ongoing}
        assert tool.list().lines == [
            "Current partition reassignments:",
            f"{topic}-0: replicas: 0,2. adding: 2.",
        ]
        view = wait_for(
            cluster, lambda: (v := metadata(cluster, topic)).replicas == [0, 2] and v, 30, "[0, 2]"
        )
        assert (view.isr, view.leader) == ([0], 0)
        still = tool.verify(plan)
        assert f"Reassignment of partition {topic}-0 is still in progress." in still.lines, still.describe()
        assert throttles(cluster, topic) == throttled  # --verify keeps them while anything is in progress

        cancelled = tool.cancel(plan)
        assert f"Successfully cancelled partition reassignment for: {topic}-0" in cancelled.lines, (
            cancelled.describe()
        )
        wait_for(cluster, lambda: metadata(cluster, topic).replicas == [0], 30, "replicas back to [0]")
        assert list_reassignments(cluster) == {}
        assert tool.list().lines == ["No partition reassignments found."]
        assert throttles(cluster, topic) == {"topic": {}, "broker 0": {}, "broker 1": {}, "broker 2": {}}
    finally:
        cluster.heal()
    view = metadata(cluster, topic)
    assert (view.replicas, view.isr, view.leader) == ([0], [0], 0)
    wait_for(cluster, lambda: not partition_dir(cluster, 2, topic).exists(), 30, "broker 2 deleting its copy")
    after = tool.verify(plan)
    assert (
        f"There is no active reassignment of partition {topic}-0, but replica set is 0 rather than 0,2."
        in after.lines
    ), after.describe()
    assert read_keyed(cluster.bootstrap, topic) == acked


def test_a_new_target_replaces_an_ongoing_reassignment(cluster, tmp_path):
    """[0] -> [0, 2] is held in progress (broker 2 cut off from the others); the tool refuses a second --execute
    without --additional; with it, [0] -> [0, 1] replaces the first: the original replicas stay [0], broker 2's
    unfinished copy is dropped, and the new target completes."""
    topic = "replaced"
    create_on(cluster, topic, [0])
    acked = produce_keyed(cluster, topic, [(b"k%03d" % i, b"v%03d" % i) for i in range(200)])
    tool = ReassignTool(cluster, tmp_path)
    cluster.partition(2, from_=[0, 1])
    try:
        tool.execute(tool.plan({(topic, 0): [0, 2]}))
        wait_for(
            cluster,
            lambda: list_reassignments(cluster).get((topic, 0)) == Ongoing([0, 2], [2], []),
            30,
            "[0] -> [0, 2] in progress",
        )
        wait_for(
            cluster, lambda: partition_dir(cluster, 2, topic).is_dir(), 30, "broker 2 holding a new replica"
        )
        second = tool.plan({(topic, 0): [0, 1]})
        refused = tool.run("--execute", "--reassignment-json-file", str(second), expect_exit=1)
        assert any(
            line.startswith("Cannot execute because there is an existing partition assignment.")
            for line in refused.lines
        ), refused.describe()
        assert list_reassignments(cluster) == {(topic, 0): Ongoing([0, 2], [2], [])}

        tool.execute(second, "--additional")
        wait_for(cluster, lambda: completed(cluster, topic, [0, 1]), 60, "[0] -> [0, 1] completed")
    finally:
        cluster.heal()
    assert_settled_on(cluster, topic, [0, 1], removed=[2])
    assert metadata(cluster, topic).leader == 0
    assert read_keyed(cluster.bootstrap, topic) == acked


def test_invalid_reassignments_get_kafkas_error_codes_and_change_nothing(cluster):
    """AlterPartitionReassignments v0/v1 answered per partition with Kafka's error codes, the assignment left as
    it was; ListPartitionReassignments names nothing for a partition without a reassignment."""
    topic = "invalid"
    create_on(cluster, topic, [0])
    for node_id in ALL:
        with RawClient(cluster.broker(node_id).bootstrap) as raw:
            versions = {k.api_key: (k.min_version, k.max_version) for k in raw.request(18, 0, {}).api_keys}
        # AlterPartitionReassignments v0-1, ListPartitionReassignments v0, on every broker
        assert versions.get(45) == (0, 1), (node_id, versions.get(45))
        assert versions.get(46) == (0, 0), (node_id, versions.get(46))

    cases = [
        ({(topic, 5): [0]}, UNKNOWN_TOPIC_OR_PARTITION),
        ({("no-such-topic", 0): [0]}, UNKNOWN_TOPIC_OR_PARTITION),
        ({(topic, 0): []}, INVALID_REPLICA_ASSIGNMENT),
        ({(topic, 0): [1, 1]}, INVALID_REPLICA_ASSIGNMENT),
        ({(topic, 0): [0, 9]}, INVALID_REPLICA_ASSIGNMENT),  # broker 9 is not registered
        ({(topic, 0): None}, NO_REASSIGNMENT_IN_PROGRESS),  # a cancel with nothing to cancel
    ]
    wrong = []
    for targets, expected in cases:
        response, errors = alter_reassignments(cluster, targets)
        got = (int(response.error_code), {k: code for k, (code, _) in errors.items()})
        if got != (0, dict.fromkeys(targets, expected)):
            wrong.append((targets, expected, got, response.error_message, errors))
    response, errors = alter_reassignments(
        cluster, {(topic, 0): [0, 1]}, version=1, allow_replication_factor_change=False
    )
    got = (int(response.error_code), response.allow_replication_factor_change, errors[(topic, 0)][0])
    if got != (0, False, INVALID_REPLICATION_FACTOR):
        wrong.append(("v1 [0] -> [0, 1] without a replication factor change", got, errors))
    assert wrong == []

    assert list_reassignments(cluster) == {}
    assert list_reassignments(cluster, {topic: [0]}) == {}
    assert metadata(cluster, topic).replicas == [0]
    assert cluster._json(f"/brokers/topics/{topic}")["partitions"] == {"0": [0]}

    # the same size is no replication factor change: accepted, and it completes
    response, errors = alter_reassignments(
        cluster, {(topic, 0): [1]}, version=1, allow_replication_factor_change=False
    )
    assert (int(response.error_code), errors) == (0, {(topic, 0): (0, None)})
    wait_for(cluster, lambda: completed(cluster, topic, [1]), 60, "moved to [1]")
    assert_settled_on(cluster, topic, [1], removed=[0])
