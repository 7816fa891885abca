"""Replication throttles (broker/replication_quota.py) on a real ReplicaManager and log, with a fake clock."""

import uuid
from pathlib import Path

from brook.broker.replica_manager import FetchPartition, ReplicaManager
from brook.broker.replication_quota import (
    LEADER_REPLICAS,
    NO_THROTTLE,
    ReplicationQuota,
    throttled_partitions,
)
from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.metadata.api import PartitionState, TopicState
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager
from brook.testing import make_batch

TP = TopicPartition("t", 0)
TOPIC_ID = uuid.UUID(int=7)


def test_a_throttled_replica_list_names_partitions_per_broker() -> None:
    assert throttled_partitions("0:1,1:2,2:1", 1) == frozenset({0, 2})
    assert throttled_partitions("0:1,1:2", 3) == frozenset()
    assert throttled_partitions("*", 3) == "*"
    assert throttled_partitions("", 1) == frozenset()


def test_a_quota_is_active_only_with_a_bound_and_throttled_partitions() -> None:
    quota = ReplicationQuota(LEADER_REPLICAS)
    quota.configure(NO_THROTTLE, {"t": {LEADER_REPLICAS: "*"}}, 0)
    assert not quota.active  # Long.MAX_VALUE: no throttle
    quota.configure(1000, {"t": {LEADER_REPLICAS: "1:5"}}, 0)
    assert not quota.active  # nothing throttled on broker 0
    quota.configure(1000, {"t": {LEADER_REPLICAS: "0:0"}, "u": {}}, 0)
    assert quota.active
    assert quota.is_throttled(TP)
    assert not quota.is_throttled(TopicPartition("t", 1))
    assert not quota.is_throttled(TopicPartition("u", 0))


def leader_with_follower(tmp_path: Path, clock: FakeClock, isr: tuple[int, ...]) -> ReplicaManager:
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock)
    topic = TopicState("t", TOPIC_ID, {0: PartitionState(0, (0, 1), 0, 1, isr)})
    replicas.sync_with({"t": topic}, {"t": LogConfig()})
    replicas.partitions[TP].log.append_as_leader(make_batch([(b"k", b"v" * 1000)] * 20), leader_epoch=1)
    return replicas


def follower_read(replicas: ReplicaManager, offset: int = 0) -> int:
    (result,) = replicas._read_all([FetchPartition(TP, offset, 1 << 20, 1)], 1 << 20, True, replica_id=1)
    assert result.error_code == 0
    assert result.valid_read
    return result.size


def test_a_leader_answers_an_out_of_sync_follower_without_records_while_over_the_bound(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    replicas = leader_with_follower(tmp_path, clock, isr=(0,))
    replicas.configure_throttles({"t": {LEADER_REPLICAS: "0:0"}}, leader_rate=1000, follower_rate=NO_THROTTLE)
    first = follower_read(replicas)
    assert first > 20_000  # under the bound: served, and counted (over 10 s of window: 2 kB/s > 1 kB/s)
    assert follower_read(replicas) == 0  # over it: answered empty
    clock.advance(60_000)  # the window forgets the burst
    assert follower_read(replicas) == first
    replicas.close()


def test_a_follower_in_the_isr_is_never_held_back(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = leader_with_follower(tmp_path, clock, isr=(0, 1))
    replicas.configure_throttles({"t": {LEADER_REPLICAS: "*"}}, leader_rate=1000, follower_rate=NO_THROTTLE)
    first = follower_read(replicas)
    assert follower_read(replicas) == first
    replicas.close()


def test_without_a_throttle_everything_is_served(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = leader_with_follower(tmp_path, clock, isr=(0,))
    replicas.configure_throttles({"t": {}}, leader_rate=1000, follower_rate=NO_THROTTLE)
    first = follower_read(replicas)
    assert follower_read(replicas) == first
    replicas.close()


def test_a_leader_forgets_a_replica_moved_off_and_never_takes_it_back_into_the_isr(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = leader_with_follower(tmp_path, clock, isr=(0,))
    partition = replicas.partitions[TP]
    moved = TopicState("t", TOPIC_ID, {0: PartitionState(0, (0, 2), 0, 1, (0,))})  # 1 moved off, 2 added
    replicas.sync_with({"t": moved}, {"t": LogConfig()})
    assert set(partition.followers) == {2}
    end = partition.log.log_end_offset
    partition.record_follower_fetch(1, end, clock.now_ms())  # the old replica fetches before it hears
    assert partition.maybe_expand_isr(1) is None
    partition.record_follower_fetch(2, end, clock.now_ms())
    assert partition.maybe_expand_isr(2) == (0, 2)
    replicas.close()
