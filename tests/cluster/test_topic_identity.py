"""Topic identity (KIP-516) across deletion and recreation, scenario (c) of issue 10."""

import base64
import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cluster.test_zookeeper_failures import cluster_broker, state_of
from tests.integration.helpers import produce_all, wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def log_bytes(data_dir: Path, topic: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / f"{topic}-0").glob("*.log")))


def consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[int, bytes]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "identity", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[tuple[int, bytes]] = []
    try:
        wait_until(lambda: _poll_into(consumer, got) and len(got) >= expected, timeout_s=30)
        for _ in range(4):  # anything more would be a record that should not be there
            _poll_into(consumer, got)
    finally:
        consumer.close()
    return got


def _poll_into(consumer: Consumer, got: list[tuple[int, bytes]]) -> bool:
    msg = consumer.poll(0.25)
    if msg is not None and msg.error() is None:
        got.append((msg.offset(), msg.value()))
    return True


def test_replica_down_while_its_topic_is_deleted_and_recreated_never_serves_the_old_records(
    zookeeper, zk, tmp_path
):
    """Scenario (c): a replica stopped while its topic is deleted and recreated deletes its old replica when
    it starts (another topic id), replicates the new topic, and leads it after a failover."""
    dirs = [tmp_path / f"b{i}" for i in range(3)]
    brokers = [cluster_broker(zookeeper, dirs[i], i) for i in range(3)]
    for b in brokers:
        b.start()
    try:
        wait_until(lambda: len(zk.get_children("/brokers/ids")) == 3)
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("reborn", 1, 3, config={"min.insync.replicas": "2"})])["reborn"].result(
            30
        )
        old = produce_all(bootstrap, "reborn", [(None, b"old-%d" % i) for i in range(100)], acks="all")
        assert len(old) == 100
        wait_until(lambda: len({log_bytes(d, "reborn") for d in dirs}) == 1, timeout_s=30)
        old_id = json.loads(zk.get("/brokers/topics/reborn")[0])["topic_id"]
        partition_metadata = (dirs[0] / "reborn-0" / "partition.metadata").read_text()
        assert partition_metadata == f"version: 0\ntopic_id: {old_id}\n"

        leader = state_of(zk, "reborn", 0)["leader"]
        # The stopped replica is a follower that is not the controller: this scenario is about the replica's
        # topic identity. (Stopping the controller right before the DeleteTopics made librdkafka's admin wait
        # 30 s for the stopped broker once, in a full run: the admin's failover to a new controller, not this.)
        controller = json.loads(zk.get("/controller")[0])["brokerid"]
        victim = next(b for b in ((leader + 1) % 3, (leader + 2) % 3) if b != controller)
        other = 3 - leader - victim
        brokers[victim].stop()
        admin.delete_topics(["reborn"])["reborn"].result(30)
        assert zk.exists("/brokers/topics/reborn") is None
        wait_until(
            lambda: not (dirs[leader] / "reborn-0").exists() and not (dirs[other] / "reborn-0").exists()
        )
        assert (dirs[victim] / "reborn-0").exists()  # it was down: its replica is still there

        # recreated under the same name while the victim is down, as Kafka's ZooKeeper tools write a topic:
        # the assignment only (the victim first), the controller brings the partition online
        new_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        zk.create(
            "/config/topics/reborn",
            json.dumps({"version": 1, "config": {"min.insync.replicas": "2"}}).encode(),
        )
        zk.create(
            "/brokers/topics/reborn",
            json.dumps(
                {"version": 2, "partitions": {"0": [victim, leader, other]}, "topic_id": new_id}
            ).encode(),
        )
        state = wait_until(
            lambda: zk.exists("/brokers/topics/reborn/partitions/0/state") and state_of(zk, "reborn", 0)
        )
        assert state["leader"] == leader
        assert sorted(state["isr"]) == sorted([leader, other])
        live = ",".join(brokers[i].bootstrap for i in (leader, other))
        new = produce_all(live, "reborn", [(None, b"new-%d" % i) for i in range(10)], acks="all")
        assert [m.offset() for m in new] == list(range(10))

        brokers[victim].start()  # finds reborn-0 naming the old topic id: deletes it, replicates afresh
        wait_until(lambda: sorted(state_of(zk, "reborn", 0)["isr"]) == [0, 1, 2], timeout_s=60)
        assert (
            dirs[victim] / "reborn-0" / "partition.metadata"
        ).read_text() == f"version: 0\ntopic_id: {new_id}\n"
        assert b"old-" not in log_bytes(dirs[victim], "reborn")
        assert "deleting replica of a deleted topic" in brokers[victim].log_text()

        brokers[leader].kill()  # fail over: the victim is first in the assignment and in the ISR
        wait_until(lambda: state_of(zk, "reborn", 0)["leader"] == victim, timeout_s=30)
        got = consume_all(",".join(brokers[i].bootstrap for i in (victim, other)), "reborn", 10)
        assert got == [(i, b"new-%d" % i) for i in range(10)]
    finally:
        for b in brokers:
            b.kill()
