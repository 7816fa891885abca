"""CreateTopics and CreatePartitions honour an explicit replica assignment on ZooKeeper (Kafka's ZooKeeper
mode): written as given, even naming a broker that is down, and checked by Kafka's rules."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from tests.cluster.cluster_faults import QUIET, cluster_on
from tests.integration.helpers import consume_assigned

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def _error_of(future) -> int:
    with pytest.raises(KafkaException) as raised:
        future.result(30)
    return raised.value.args[0].code()


def test_explicit_assignments_are_written_as_given_and_checked(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path) as cluster:
        assert cluster.terminate(2) == 0  # a clean stop ends its session at once: no session timeout to wait
        assert 2 not in cluster.registered_brokers()
        admin = AdminClient({"bootstrap.servers": cluster.broker(0).bootstrap, **QUIET})
        # broker 2 is down: Kafka's ZooKeeper mode writes the assignment all the same
        placed = NewTopic("placed", 3, replica_assignment=[[2, 0], [0, 1], [1, 2]])
        admin.create_topics([placed])["placed"].result(30)
        assert cluster.partition_state("placed", 0)["leader"] in (0, 1, 2)
        assignment = cluster._json("/brokers/topics/placed")["partitions"]
        assert assignment == {"0": [2, 0], "1": [0, 1], "2": [1, 2]}
        # the dead preferred leader of partition 0 is replaced by the live replica
        cluster.wait_until(lambda: cluster.leader("placed", 0) == 0, 30, "partition 0 led by broker 0")
        records = [(b"k%d" % i, b"v%d" % i) for i in range(20)]
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", **QUIET})
        errors: list[object] = []
        for key, value in records:
            producer.produce(
                "placed", value, key, partition=0, on_delivery=lambda e, _m: e and errors.append(e)
            )
        assert producer.flush(30) == 0
        assert errors == []

        cluster.start_broker(2)
        cluster.wait_until(
            lambda: sorted(cluster.partition_state("placed", 0)["isr"]) == [0, 2], 60, "broker 2 in the ISR"
        )
        got = consume_assigned(cluster.broker(0).bootstrap, "placed", 0, 20)
        assert [(m.key(), m.value()) for m in got] == records

        grown = NewPartitions("placed", 4, replica_assignment=[[2, 1]])
        admin.create_partitions([grown])["placed"].result(30)
        assert cluster._json("/brokers/topics/placed")["partitions"]["3"] == [2, 1]

        bad = {
            "dup": NewTopic("dup", 1, replica_assignment=[[0, 0]]),
            "uneven": NewTopic("uneven", 2, replica_assignment=[[0, 1], [1]]),
        }
        futures = admin.create_topics(list(bad.values()))
        assert _error_of(futures["dup"]) == KafkaError.INVALID_REPLICA_ASSIGNMENT
        assert _error_of(futures["uneven"]) == KafkaError.INVALID_REPLICA_ASSIGNMENT
        unknown = admin.create_partitions([NewPartitions("placed", 5, replica_assignment=[[0, 9]])])
        assert _error_of(unknown["placed"]) == KafkaError.INVALID_REPLICA_ASSIGNMENT
        assert cluster._json("/brokers/topics/dup") is None
        assert len(cluster._json("/brokers/topics/placed")["partitions"]) == 4
