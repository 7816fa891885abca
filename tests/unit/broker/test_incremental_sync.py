"""ReplicaManager.sync_with skips a topic given the same state as last time (thousands of partitions hosted: one
metadata change must not walk them all), and still applies every kind of change to the topics that changed."""

import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from brook.broker.replica_manager import ReplicaManager
from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.metadata.api import PartitionState, TopicState
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager

NODE = 0


def topic(
    name: str, partitions: int, *, leader: int = NODE, epoch: int = 1, isr: tuple[int, ...] = (0, 1)
) -> TopicState:
    return TopicState(
        name,
        uuid.uuid5(uuid.NAMESPACE_DNS, name),
        {p: PartitionState(p, (0, 1), leader, epoch, isr) for p in range(partitions)},
    )


@pytest.fixture
def replicas(tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    manager = ReplicaManager(NODE, LogManager([tmp_path], clock), clock)
    yield manager
    manager.close()


@pytest.fixture
def role_changes(monkeypatch: pytest.MonkeyPatch) -> list[TopicPartition]:
    """The partitions each sync applied a role or ISR to."""
    seen: list[TopicPartition] = []
    original = Partition.update_isr

    def update_isr(self: Partition, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(self.tp)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Partition, "update_isr", update_isr)
    return seen


def test_a_second_sync_with_the_same_state_touches_no_partition(
    replicas: ReplicaManager, role_changes: list[TopicPartition]
) -> None:
    topics = {"a": topic("a", 3), "b": topic("b", 2)}
    configs = {"a": LogConfig(), "b": LogConfig()}
    replicas.sync_with(topics, configs, min_insync_replicas={"a": 2, "b": 1})
    role_changes.clear()
    replicas.sync_with(topics, configs, min_insync_replicas={"a": 2, "b": 1})
    assert role_changes == []
    assert sorted(replicas.partitions) == [TopicPartition("a", p) for p in range(3)] + [
        TopicPartition("b", p) for p in range(2)
    ]


def test_only_the_topic_whose_isr_changed_is_applied(
    replicas: ReplicaManager, role_changes: list[TopicPartition]
) -> None:
    a, b = topic("a", 3), topic("b", 2)
    replicas.sync_with({"a": a, "b": b}, {"a": LogConfig(), "b": LogConfig()})
    role_changes.clear()
    shrunk = replace(b, partitions={**b.partitions, 1: replace(b.partitions[1], isr=(0,))})
    replicas.sync_with({"a": a, "b": shrunk}, {"a": LogConfig(), "b": LogConfig()})
    assert set(role_changes) == {TopicPartition("b", 0), TopicPartition("b", 1)}
    assert replicas.partitions[TopicPartition("b", 1)].isr == (0,)
    assert replicas.partitions[TopicPartition("b", 0)].isr == (0, 1)


def test_a_new_leader_a_config_and_min_isr_are_each_applied(replicas: ReplicaManager) -> None:
    a = topic("a", 2)
    replicas.sync_with({"a": a}, {"a": LogConfig()}, min_insync_replicas={"a": 1})
    tp = TopicPartition("a", 0)
    assert replicas.partitions[tp].is_leader

    moved = topic("a", 2, leader=1, epoch=2)
    replicas.sync_with({"a": moved}, {"a": LogConfig()}, min_insync_replicas={"a": 1})
    assert not replicas.partitions[tp].is_leader
    assert replicas.partitions[tp].leader_epoch == 2

    compacted = LogConfig(cleanup_policy="compact")
    replicas.sync_with({"a": moved}, {"a": compacted}, min_insync_replicas={"a": 1})
    assert replicas.partitions[tp].config == compacted
    assert replicas.partitions[tp].log.config == compacted

    replicas.sync_with({"a": moved}, {"a": compacted}, min_insync_replicas={"a": 2})
    assert replicas.partitions[tp].min_insync_replicas == 2


def test_an_equal_state_rebuilt_by_the_store_is_skipped_too(
    replicas: ReplicaManager, role_changes: list[TopicPartition]
) -> None:
    replicas.sync_with({"a": topic("a", 2)}, {"a": LogConfig()})
    role_changes.clear()
    replicas.sync_with({"a": topic("a", 2)}, {"a": LogConfig()})  # new objects, same values
    assert role_changes == []


def test_partitions_added_moved_away_and_deleted_follow_the_metadata(replicas: ReplicaManager) -> None:
    a, b = topic("a", 2), topic("b", 1)
    replicas.sync_with({"a": a, "b": b}, {"a": LogConfig(), "b": LogConfig()})
    grown = topic("a", 3)  # a partition added to `a`
    replicas.sync_with({"a": grown, "b": b}, {"a": LogConfig(), "b": LogConfig()})
    assert TopicPartition("a", 2) in replicas.partitions
    away = replace(grown, partitions={**grown.partitions, 0: PartitionState(0, (1, 2), 1, 1, (1, 2))})
    replicas.sync_with({"a": away, "b": b}, {"a": LogConfig(), "b": LogConfig()})
    assert TopicPartition("a", 0) not in replicas.partitions  # reassigned to other brokers
    replicas.sync_with({"a": away}, {"a": LogConfig()})  # `b` deleted
    assert sorted(replicas.partitions) == [TopicPartition("a", 1), TopicPartition("a", 2)]
    assert replicas.log_manager.get(TopicPartition("b", 0)) is None


def test_a_pass_that_failed_is_applied_again(
    replicas: ReplicaManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync that stopped half-way (no descriptor to open a log) is not remembered: the next one with the same
    state opens what the first could not."""
    a, b = topic("a", 1), topic("b", 1)
    original = ReplicaManager._open_partition
    failing = {"b"}

    def open_partition(self: ReplicaManager, tp: TopicPartition, *args, **kwargs):  # type: ignore[no-untyped-def]
        if tp.topic in failing:
            raise OSError(24, "Too many open files")
        return original(self, tp, *args, **kwargs)

    monkeypatch.setattr(ReplicaManager, "_open_partition", open_partition)
    with pytest.raises(OSError):
        replicas.sync_with({"a": a, "b": b}, {"a": LogConfig(), "b": LogConfig()})
    failing.clear()
    replicas.sync_with({"a": a, "b": b}, {"a": LogConfig(), "b": LogConfig()})
    assert sorted(replicas.partitions) == [TopicPartition("a", 0), TopicPartition("b", 0)]
