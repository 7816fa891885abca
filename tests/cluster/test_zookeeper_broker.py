"""`brook serve` on ZooKeeper: real brokers, confluent-kafka clients, and kazoo to look at the znodes."""

import json
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from brook.testing import BrookProcess
from tests.cluster.brokers import brook_on as start_broker
from tests.integration.helpers import consume_assigned, produce_all, wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def brook_on(zookeeper: str, data_dir: Path, node_id: int) -> BrookProcess:
    return start_broker(zookeeper, data_dir, node_id, **{"zookeeper.session.timeout.ms": "6000"})


def test_broker_keeps_its_metadata_in_zookeeper(zookeeper, zk, tmp_path):
    broker = brook_on(zookeeper, tmp_path / "b0", 0)
    with broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topic = NewTopic("zk-orders", 2, 1, config={"retention.ms": "3600000"})
        admin.create_topics([topic])["zk-orders"].result(10)
        delivered = produce_all(broker.bootstrap, "zk-orders", [(b"k%d" % i, b"v%d" % i) for i in range(20)])
        on_p0 = sum(1 for m in delivered if m.partition() == 0)
        assert [m.value() for m in consume_assigned(broker.bootstrap, "zk-orders", 0, on_p0)] == [
            m.value() for m in delivered if m.partition() == 0
        ]
        cluster = admin.list_topics(timeout=10)
        cluster_id = cluster.cluster_id
        assert json.loads(zk.get("/cluster/id")[0])["id"] == cluster_id
        assert cluster.controller_id == 0
        assert json.loads(zk.get("/controller")[0])["brokerid"] == 0
        registered = json.loads(zk.get("/brokers/ids/0")[0])
        assert registered["port"] == broker.port
        assignment = json.loads(zk.get("/brokers/topics/zk-orders")[0])["partitions"]
        assert assignment == {"0": [0], "1": [0]}
        assert json.loads(zk.get("/config/topics/zk-orders")[0])["config"] == {"retention.ms": "3600000"}

        broker.stop()
        assert zk.exists("/brokers/ids/0") is None  # the session ended with the broker
        assert zk.exists("/controller") is None

        broker.start()
        assert zk.exists("/brokers/ids/0") is not None
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        cluster = admin.list_topics(timeout=10)
        assert cluster.cluster_id == cluster_id
        assert sorted(cluster.topics["zk-orders"].partitions) == [0, 1]
        resource = ConfigResource(ConfigResource.Type.TOPIC, "zk-orders")
        configs = admin.describe_configs([resource])[resource].result(10)
        assert configs["retention.ms"].value == "3600000"
        assert len(consume_assigned(broker.bootstrap, "zk-orders", 0, on_p0)) == on_p0


def test_two_brokers_share_one_zookeeper(zookeeper, zk, tmp_path):
    with brook_on(zookeeper, tmp_path / "b0", 0) as b0, brook_on(zookeeper, tmp_path / "b1", 1) as b1:
        assert sorted(zk.get_children("/brokers/ids"), key=int) == ["0", "1"]
        controller = json.loads(zk.get("/controller")[0])["brokerid"]
        assert controller in (0, 1)
        admin0 = AdminClient({"bootstrap.servers": b0.bootstrap})
        admin0.create_topics([NewTopic("zk-shared", 4, 1)])["zk-shared"].result(10)
        assignment = json.loads(zk.get("/brokers/topics/zk-shared")[0])["partitions"]
        assert sorted(r[0] for r in assignment.values()) == [0, 0, 1, 1]

        admin1 = AdminClient({"bootstrap.servers": b1.bootstrap})
        cluster = wait_until(lambda: _topic_seen(admin1, "zk-shared"))
        assert sorted(cluster.brokers) == [0, 1]
        assert cluster.controller_id == controller
        assert {p.leader for p in cluster.topics["zk-shared"].partitions.values()} == {0, 1}

        # each broker hosts the partitions it leads: records go to both and come back
        delivered = produce_all(b1.bootstrap, "zk-shared", [(b"k%d" % i, b"v") for i in range(40)])
        for partition in range(4):
            count = sum(1 for m in delivered if m.partition() == partition)
            assert len(consume_assigned(b0.bootstrap, "zk-shared", partition, count)) == count

        b1.stop()
        wait_until(lambda: sorted(admin0.list_topics(timeout=10).brokers) == [0])
        assert zk.get_children("/brokers/ids") == ["0"]


def _topic_seen(admin: AdminClient, name: str):
    cluster = admin.list_topics(timeout=10)
    topic = cluster.topics.get(name)
    if topic is None or (topic.error is not None and topic.error.code() != KafkaError.NO_ERROR):
        return None
    return cluster if len(topic.partitions) == 4 else None
