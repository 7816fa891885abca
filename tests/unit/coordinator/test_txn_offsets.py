"""TxnOffsetCommit in the group coordinator: offsets pending per producer until its transaction's marker."""

from __future__ import annotations

from brook.common.clock import FakeClock
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import CoordinatorConfig, GroupCoordinator, ReplicatedCallback
from tests.unit.coordinator.conftest import PARTITIONS, MemoryOffsetsWriter

TP = TopicPartition("in", 0)
PID = 77


class TxnWriter(MemoryOffsetsWriter):
    def __init__(self) -> None:
        super().__init__()
        self.txn_records: list[tuple[int, int, int, list[tuple[bytes, bytes | None]]]] = []

    def append_transactional(
        self, partition, records, producer_id, producer_epoch, on_replicated: ReplicatedCallback
    ):  # type: ignore[no-untyped-def]
        if self.fail is not None:
            raise self.fail
        self.txn_records.append((partition, producer_id, producer_epoch, records))
        if self.hold:
            self.waiting.append(on_replicated)
        else:
            on_replicated(self.replication)


def _coordinator() -> tuple[GroupCoordinator, TxnWriter]:
    writer = TxnWriter()
    coordinator = GroupCoordinator(
        CoordinatorConfig(offsets_topic_partitions=PARTITIONS), writer, FakeClock()
    )
    for p in range(PARTITIONS):
        coordinator.begin_loading(p)
        coordinator.finish_loading(p)
    return coordinator, writer


def _commit(coordinator: GroupCoordinator, offset: int, pid: int = PID, generation: int = -1):  # type: ignore[no-untyped-def]
    answers: list[tuple[ErrorCode, dict[TopicPartition, ErrorCode]]] = []
    coordinator.txn_commit_offsets(
        "g", pid, 0, generation, "", None, {TP: (offset, -1, "m")}, lambda e, r: answers.append((e, r))
    )
    return answers


def _committed(coordinator: GroupCoordinator) -> int:
    error, entries = coordinator.fetch_offsets("g", [TP])
    assert error == ErrorCode.none
    om = entries[0][1]
    return -1 if om is None else om.offset


def test_offsets_appear_only_when_the_transaction_commits() -> None:
    coordinator, writer = _coordinator()
    answers = _commit(coordinator, 10)
    assert answers == [(ErrorCode.none, {TP: ErrorCode.none})]
    partition = coordinator.partition_for("g")
    assert writer.txn_records[0][:3] == (partition, PID, 0)
    assert _committed(coordinator) == -1
    assert coordinator.unstable_partitions("g", [TP, TopicPartition("in", 1)]) == {TP}
    coordinator.complete_txn(partition, PID, commit=True)
    assert _committed(coordinator) == 10
    assert coordinator.unstable_partitions("g", [TP]) == set()


def test_abort_drops_the_offsets() -> None:
    coordinator, _ = _coordinator()
    _commit(coordinator, 10)
    coordinator.complete_txn(coordinator.partition_for("g"), PID, commit=False)
    assert _committed(coordinator) == -1
    assert coordinator.unstable_partitions("g", [TP]) == set()


def test_marker_of_another_producer_or_partition_changes_nothing() -> None:
    coordinator, _ = _coordinator()
    _commit(coordinator, 10)
    partition = coordinator.partition_for("g")
    coordinator.complete_txn(partition, PID + 1, commit=True)
    coordinator.complete_txn((partition + 1) % PARTITIONS, PID, commit=True)
    assert _committed(coordinator) == -1
    coordinator.complete_txn(partition, PID, commit=True)
    assert _committed(coordinator) == 10


def test_failed_write_is_not_pending() -> None:
    coordinator, writer = _coordinator()
    writer.replication = ErrorCode.not_leader_or_follower
    assert _commit(coordinator, 10) == [(ErrorCode.none, {TP: ErrorCode.not_coordinator})]
    assert coordinator.unstable_partitions("g", [TP]) == set()


def test_generation_is_checked_for_unknown_group() -> None:
    coordinator, _ = _coordinator()
    assert _commit(coordinator, 10, generation=3) == [(ErrorCode.illegal_generation, {})]


def test_replay_keeps_transactional_offsets_pending_until_their_marker() -> None:
    coordinator, writer = _coordinator()
    _commit(coordinator, 10)
    partition = coordinator.partition_for("g")
    records = writer.txn_records[0][3]
    other, _ = _coordinator()
    other.begin_loading(partition)
    for key, value in records:
        other.replay_txn_offset(partition, PID, key, value)
    other.finish_loading(partition)
    assert _committed(other) == -1
    assert other.unstable_partitions("g", [TP]) == {TP}
    other.complete_txn(partition, PID, commit=True)
    assert _committed(other) == 10
