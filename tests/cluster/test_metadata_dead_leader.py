"""Metadata names only live leaders, as Kafka's MetadataCache does: a partition whose leader is not a live broker
(gone and not replaced, or no leader at all) is answered with leader -1 and LEADER_NOT_AVAILABLE, so a client
never waits on a broker missing from the same answer's broker list."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cluster.cluster_faults import QUIET, cluster_on

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def test_a_partition_without_a_live_leader_is_leader_not_available(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path, size=2) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.broker(0).bootstrap, **QUIET})
        admin.create_topics([NewTopic("alone", 2, replica_assignment=[[1], [0]])])["alone"].result(30)
        cluster.wait_until(lambda: cluster.leader("alone", 0) == 1, 30, "alone-0 led by broker 1")
        healthy = admin.list_topics("alone", timeout=10).topics["alone"].partitions
        assert healthy[0].leader == 1
        assert healthy[0].error is None
        cluster.kill(1)  # its only replica: no election can replace it
        cluster.wait_until(lambda: 1 not in cluster.registered_brokers(), 30, "broker 1 gone")

        def answered() -> bool:
            metadata = admin.list_topics("alone", timeout=10)
            return 1 not in metadata.brokers and metadata.topics["alone"].partitions[0].leader == -1

        cluster.wait_until(answered, 30, "broker 1 out of Metadata")
        partitions = admin.list_topics("alone", timeout=10).topics["alone"].partitions
        assert partitions[0].error is not None
        assert partitions[0].error.code() == KafkaError.LEADER_NOT_AVAILABLE
        assert partitions[0].replicas == [1]
        assert partitions[1].leader == 0  # the other partition is untouched
        assert partitions[1].error is None
