"""Once the broker began shutting down (fetchers closed), no metadata change starts a replica fetcher."""

import uuid
from pathlib import Path

from brook.broker.replica_manager import ReplicaManager
from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.metadata.api import BrokerInfo, PartitionState, TopicState
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager

LEADER = {1: BrokerInfo(1, "127.0.0.1", 9)}


def follower_topic(epoch: int) -> dict[str, TopicState]:
    return {"t": TopicState("t", uuid.UUID(int=1), {0: PartitionState(0, (1, 0), 1, epoch, (1, 0))})}


async def test_a_metadata_change_after_close_starts_no_fetcher(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock, replica_lag_time_max_ms=1000)
    replicas.sync_with(follower_topic(1), {"t": LogConfig()}, brokers=LEADER)
    assert replicas.fetchers._fetchers  # following broker 1
    await replicas.fetchers.close()
    replicas.sync_with(follower_topic(2), {"t": LogConfig()}, brokers=LEADER)  # a new epoch while stopping
    assert replicas.fetchers._fetchers == {}
    assert replicas.partitions[TopicPartition("t", 0)].leader_epoch == 2  # the metadata itself still applies
    replicas.close()
