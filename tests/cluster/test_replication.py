"""Three brooks on one ZooKeeper: followers replicate, acks=all waits for the ISR, the controller fails over."""

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookProcess
from tests.cluster.brokers import brook_on as start_broker
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def brook_on(zookeeper: str, data_dir: Path, node_id: int) -> BrookProcess:
    # short timeouts so that a killed broker leaves ZooKeeper and the ISR within the test's deadlines
    return start_broker(
        zookeeper,
        data_dir,
        node_id,
        **{
            "zookeeper.session.timeout.ms": "2000",
            "replica.lag.time.max.ms": "2000",
            "offsets.topic.replication.factor": "1",
        },
    )


def state_of(zk, topic: str, partition: int = 0) -> dict:
    return json.loads(zk.get(f"/brokers/topics/{topic}/partitions/{partition}/state")[0])


def log_bytes(data_dir: Path, topic: str, partition: int = 0) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / f"{topic}-{partition}").glob("*.log")))


def read_all(bootstrap: str, topic: str, count: int, timeout_s: float = 20.0) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "repl-check", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
    finally:
        consumer.close()
    return got


def produce(bootstrap: str, topic: str, values: list[bytes]) -> list:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 30000,
        }
    )
    acked: list = []

    def on_delivery(err, msg):
        if err is None:
            acked.append(msg)

    for value in values:
        producer.produce(topic, value, partition=0, on_delivery=on_delivery)
        producer.poll(0)
    producer.flush(40)
    return acked


def test_three_replicas_hold_the_same_bytes_and_survive_the_leader(zookeeper, zk, tmp_path):
    dirs = [tmp_path / f"b{i}" for i in range(3)]
    brokers = [brook_on(zookeeper, dirs[i], i) for i in range(3)]
    for b in brokers:
        b.start()
    try:
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        wait_until(lambda: len(zk.get_children("/brokers/ids")) == 3)
        admin.create_topics([NewTopic("replicated", 1, 3, config={"min.insync.replicas": "2"})])[
            "replicated"
        ].result(10)
        first = produce(bootstrap, "replicated", [b"a%03d" % i for i in range(200)])
        assert len(first) == 200
        assert [m.offset() for m in first] == list(range(200))
        wait_until(lambda: len({log_bytes(d, "replicated") for d in dirs}) == 1)
        assert log_bytes(dirs[0], "replicated")
        assert sorted(state_of(zk, "replicated")["isr"]) == [0, 1, 2]

        old = state_of(zk, "replicated")
        brokers[old["leader"]].kill()
        new = wait_until(
            lambda: (s := state_of(zk, "replicated"))["leader"] != old["leader"] and s, timeout_s=10
        )
        assert new["leader_epoch"] == old["leader_epoch"] + 1
        assert old["leader"] not in new["isr"]
        survivors = [b for i, b in enumerate(brokers) if i != old["leader"]]
        bootstrap = ",".join(b.bootstrap for b in survivors)
        second = produce(bootstrap, "replicated", [b"b%03d" % i for i in range(100)])
        assert len(second) == 100

        acked = first + second
        got = read_all(bootstrap, "replicated", len(acked))
        assert [(m.offset(), m.value()) for m in got] == [(m.offset(), m.value()) for m in acked]
        assert [m.offset() for m in got] == list(range(300))

        # the old leader comes back as a follower, catches up and rejoins the ISR
        brokers[old["leader"]].start()
        wait_until(lambda: sorted(state_of(zk, "replicated")["isr"]) == [0, 1, 2], timeout_s=15)
        wait_until(lambda: len({log_bytes(d, "replicated") for d in dirs}) == 1)
        assert state_of(zk, "replicated")["leader"] == new["leader"]
    finally:
        for b in brokers:
            b.stop()


def test_acks_all_is_refused_below_min_insync_replicas(zookeeper, zk, tmp_path):
    brokers = [brook_on(zookeeper, tmp_path / f"b{i}", i) for i in range(2)]
    for b in brokers:
        b.start()
    try:
        wait_until(lambda: len(zk.get_children("/brokers/ids")) == 2)
        admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
        admin.create_topics([NewTopic("strict", 1, 2, config={"min.insync.replicas": "2"})])["strict"].result(
            10
        )
        leader = state_of(zk, "strict")["leader"]
        brokers[1 - leader].kill()
        wait_until(lambda: state_of(zk, "strict")["isr"] == [leader], timeout_s=10)
        producer = Producer(
            {"bootstrap.servers": brokers[leader].bootstrap, "acks": "all", "message.timeout.ms": 3000}
        )
        errors: list = []
        producer.produce("strict", b"x", partition=0, on_delivery=lambda err, _m: errors.append(err))
        producer.flush(10)
        assert errors
        assert errors[0] is not None
        assert errors[0].name() in ("NOT_ENOUGH_REPLICAS", "_MSG_TIMED_OUT")
    finally:
        for b in brokers:
            b.stop()
