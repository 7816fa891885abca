"""The transaction coordinator's state machine, driven through its real API with a recording writer/sender."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import ErrorCode, NotEnoughReplicas
from brook.common.types import TopicPartition
from brook.coordinator.transaction import (
    InitResult,
    TransactionConfig,
    TransactionCoordinator,
    TxnMarkers,
    TxnState,
)
from brook.coordinator.transaction.log_format import decode_key, decode_value

TP0 = TopicPartition("out", 0)
TP1 = TopicPartition("out", 1)


class Log:
    """Records what the coordinator appends; replicates at once unless `hold` is set."""

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes, bytes | None]] = []
        self.hold = False
        self.held: list[Callable[[ErrorCode], None]] = []
        self.refuse = False

    def append_txn(self, partition: int, key: bytes, value: bytes | None, on_replicated) -> None:  # type: ignore[no-untyped-def]
        if self.refuse:
            raise NotEnoughReplicas("not enough")
        self.records.append((partition, key, value))
        if self.hold:
            self.held.append(on_replicated)
        else:
            on_replicated(ErrorCode.none)


class Markers:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int, int, bool, frozenset[TopicPartition]]] = []
        self.pending: list[Callable[[], None]] = []

    def send_markers(self, markers: TxnMarkers, on_written: Callable[[], None]) -> None:
        self.sent.append(
            (
                markers.coordinator_epoch,
                markers.producer_id,
                markers.producer_epoch,
                markers.commit,
                markers.partitions,
            )
        )
        self.pending.append(on_written)

    def deliver(self) -> None:
        pending, self.pending = self.pending, []
        for on_written in pending:
            on_written()


class Harness:
    def __init__(self, num_partitions: int = 3) -> None:
        self.clock = FakeClock()
        self.log = Log()
        self.markers = Markers()
        self.leaders: dict[int, int] = dict.fromkeys(range(num_partitions), 5)
        self.coordinator = TransactionCoordinator(
            TransactionConfig(num_partitions=num_partitions, max_timeout_ms=60_000, id_expiration_ms=100_000),
            self.log,
            self.markers,
            self.leaders.get,
            self.clock,
        )
        self.next_pid = 1000
        for p in range(num_partitions):
            self.coordinator.begin_loading(p, 5)
            self.coordinator.finish_loading(p)

    def init(
        self, txn_id: str = "t", timeout_ms: int = 10_000, expected: tuple[int, int] | None = None
    ) -> InitResult:
        results: list[InitResult] = []
        fresh = None
        if self.coordinator.needs_producer_id(txn_id, expected):
            fresh, self.next_pid = self.next_pid, self.next_pid + 1
        self.coordinator.init_producer_id(
            txn_id, timeout_ms, expected, self.clock.now_ms(), fresh, results.append
        )
        assert len(results) == 1
        return results[0]

    def add(self, result: InitResult, *tps: TopicPartition, txn_id: str = "t") -> ErrorCode:
        codes: list[ErrorCode] = []
        self.coordinator.add_partitions(
            txn_id, result.producer_id, result.producer_epoch, tps, self.clock.now_ms(), codes.append
        )
        return codes[0]

    def end(self, result: InitResult, commit: bool, txn_id: str = "t") -> ErrorCode:
        codes: list[ErrorCode] = []
        self.coordinator.end_transaction(
            txn_id, result.producer_id, result.producer_epoch, commit, self.clock.now_ms(), codes.append
        )
        return codes[0]

    def state(self, txn_id: str = "t") -> TxnState:
        meta = self.coordinator.metadata(txn_id)
        assert meta is not None
        return meta.state


def test_init_gives_new_id_epoch_zero_then_bumps_epoch() -> None:
    h = Harness()
    first = h.init()
    assert first == InitResult(ErrorCode.none, 1000, 0)
    again = h.init()
    assert again == InitResult(ErrorCode.none, 1000, 1)
    assert h.state() == TxnState.EMPTY
    key = h.log.records[-1][1]
    value = h.log.records[-1][2]
    assert decode_key(key) == "t"
    assert value is not None
    assert decode_value(value).producer_epoch == 1


def test_init_validates_id_and_timeout() -> None:
    h = Harness()
    assert h.init("").error == ErrorCode.invalid_request
    assert h.init(timeout_ms=60_001).error == ErrorCode.invalid_transaction_timeout
    assert h.init(timeout_ms=0).error == ErrorCode.invalid_transaction_timeout
    assert h.init(timeout_ms=60_000).error == ErrorCode.none


def test_commit_writes_prepare_sends_markers_then_complete() -> None:
    h = Harness()
    producer = h.init()
    assert h.add(producer, TP0, TP1) == ErrorCode.none
    assert h.state() == TxnState.ONGOING
    assert h.add(producer, TP0) == ErrorCode.none  # nothing new: no write
    writes = len(h.log.records)
    assert h.add(producer, TP0) == ErrorCode.none
    assert len(h.log.records) == writes
    assert h.end(producer, commit=True) == ErrorCode.none
    assert h.state() == TxnState.PREPARE_COMMIT
    assert h.markers.sent == [(5, 1000, 0, True, frozenset({TP0, TP1}))]
    # while markers are in flight: a retry of the commit is told to wait, an abort is wrong, adds wait
    assert h.end(producer, commit=True) == ErrorCode.concurrent_transactions
    assert h.end(producer, commit=False) == ErrorCode.invalid_txn_state
    assert h.add(producer, TP0) == ErrorCode.concurrent_transactions
    h.markers.deliver()
    assert h.state() == TxnState.COMPLETE_COMMIT
    meta = h.coordinator.metadata("t")
    assert meta is not None
    assert meta.partitions == frozenset()
    assert h.end(producer, commit=True) == ErrorCode.none  # a retry of a finished commit
    assert h.end(producer, commit=False) == ErrorCode.invalid_txn_state
    # the next transaction starts from CompleteCommit
    assert h.add(producer, TP1) == ErrorCode.none
    assert h.end(producer, commit=False) == ErrorCode.none
    assert h.markers.sent[-1][3] is False
    h.markers.deliver()
    assert h.state() == TxnState.COMPLETE_ABORT


def test_end_in_empty_state_is_invalid() -> None:
    h = Harness()
    producer = h.init()
    assert h.end(producer, commit=True) == ErrorCode.invalid_txn_state


def test_wrong_producer_id_and_epoch() -> None:
    h = Harness()
    producer = h.init()
    assert h.add(InitResult(ErrorCode.none, 7, 0), TP0) == ErrorCode.invalid_producer_id_mapping
    assert h.add(producer, TP0, txn_id="unknown") == ErrorCode.invalid_producer_id_mapping
    assert h.add(InitResult(ErrorCode.none, 1000, 3), TP0) == ErrorCode.producer_fenced


def test_new_instance_fences_the_zombie_and_aborts_its_transaction() -> None:
    h = Harness()
    zombie = h.init()
    assert h.add(zombie, TP0) == ErrorCode.none
    # a second instance: the open transaction is aborted under epoch 1; the new one must retry
    assert h.init().error == ErrorCode.concurrent_transactions
    assert h.state() == TxnState.PREPARE_ABORT
    assert h.markers.sent == [(5, 1000, 1, False, frozenset({TP0}))]
    assert h.init().error == ErrorCode.concurrent_transactions  # markers still in flight
    h.markers.deliver()
    assert h.state() == TxnState.COMPLETE_ABORT
    fresh = h.init()
    assert fresh == InitResult(ErrorCode.none, 1000, 2)
    # the zombie (epoch 0) is fenced everywhere
    assert h.add(zombie, TP0) == ErrorCode.producer_fenced
    assert h.end(zombie, commit=True) == ErrorCode.producer_fenced


def test_kip360_expected_epoch() -> None:
    h = Harness()
    producer = h.init()
    bumped = h.init(expected=(producer.producer_id, producer.producer_epoch))
    assert bumped == InitResult(ErrorCode.none, 1000, 1)
    # a retry of that bump (the response was lost): same epoch again
    assert h.init(expected=(producer.producer_id, producer.producer_epoch)) == InitResult(
        ErrorCode.none, 1000, 1
    )
    assert h.init(expected=(999, 0)).error == ErrorCode.producer_fenced


def test_exhausted_epoch_rotates_producer_id() -> None:
    h = Harness()
    h.init()
    meta = h.coordinator.metadata("t")
    assert meta is not None
    meta.producer_epoch = 32766
    rotated = h.init()
    assert rotated == InitResult(ErrorCode.none, 1001, 0)
    assert meta.last_producer_id == 1000


def test_pending_write_gives_concurrent_transactions() -> None:
    h = Harness()
    producer = h.init()
    h.log.hold = True
    codes: list[ErrorCode] = []
    h.coordinator.add_partitions("t", producer.producer_id, producer.producer_epoch, [TP0], 0, codes.append)
    assert codes == []
    assert h.end(producer, commit=True) == ErrorCode.concurrent_transactions
    assert h.init().error == ErrorCode.concurrent_transactions
    h.log.held.pop()(ErrorCode.none)
    assert codes == [ErrorCode.none]
    assert h.state() == TxnState.ONGOING


@pytest.mark.parametrize(
    ("append_error", "client_error"),
    [
        (ErrorCode.not_leader_or_follower, ErrorCode.not_coordinator),
        (ErrorCode.request_timed_out, ErrorCode.coordinator_not_available),
        (ErrorCode.not_enough_replicas_after_append, ErrorCode.coordinator_not_available),
    ],
)
def test_failed_write_leaves_state_unchanged(append_error: ErrorCode, client_error: ErrorCode) -> None:
    h = Harness()
    producer = h.init()
    h.log.hold = True
    codes: list[ErrorCode] = []
    h.coordinator.add_partitions("t", producer.producer_id, producer.producer_epoch, [TP0], 0, codes.append)
    h.log.held.pop()(append_error)
    assert codes == [client_error]
    assert h.state() == TxnState.EMPTY
    h.log.hold = False
    h.log.refuse = True
    assert h.add(producer, TP0) == ErrorCode.coordinator_not_available


def test_not_owned_or_loading_partition() -> None:
    h = Harness()
    p = h.coordinator.partition_for("t")
    h.coordinator.unload(p)
    # still led here (the metadata FindCoordinator reads names this broker), not taken over again yet
    assert h.init().error == ErrorCode.coordinator_load_in_progress
    del h.leaders[p]  # led elsewhere
    assert h.init().error == ErrorCode.not_coordinator
    h.leaders[p] = 5
    h.coordinator.begin_loading(p, 6)
    assert h.init().error == ErrorCode.coordinator_load_in_progress
    h.coordinator.finish_loading(p)
    assert h.init().error == ErrorCode.not_coordinator  # the partition's leader epoch is still 5
    h.leaders[p] = 6
    assert h.init().error == ErrorCode.none


def test_timed_out_transaction_is_aborted_and_producer_fenced() -> None:
    h = Harness()
    producer = h.init(timeout_ms=10_000)
    assert h.add(producer, TP0) == ErrorCode.none
    h.clock.advance(10_000)
    h.coordinator.tick(h.clock.now_ms())
    assert h.state() == TxnState.ONGOING  # not yet older than its timeout
    h.clock.advance(10_001)
    h.coordinator.tick(h.clock.now_ms())
    assert h.state() == TxnState.PREPARE_ABORT
    h.markers.deliver()
    assert h.state() == TxnState.COMPLETE_ABORT
    assert h.end(producer, commit=True) == ErrorCode.producer_fenced


def test_idle_transactional_id_expires_with_a_tombstone() -> None:
    h = Harness()
    h.init()
    h.clock.advance(100_000)
    h.coordinator.expire_ids(h.clock.now_ms())
    assert h.coordinator.metadata("t") is None
    assert h.log.records[-1][2] is None
    assert h.coordinator.describe("t")[0] == ErrorCode.transactional_id_not_found


def test_failover_replays_log_and_completes_prepare_commit() -> None:
    h = Harness()
    producer = h.init()
    h.add(producer, TP0, TP1)
    h.end(producer, commit=True)
    assert h.state() == TxnState.PREPARE_COMMIT
    # another coordinator loads the same records (this one never delivered its markers)
    other = Harness()
    p = other.coordinator.partition_for("t")
    other.coordinator.begin_loading(p, 7)
    other.leaders[p] = 7
    for partition, key, value in h.log.records:
        assert partition == p
        other.coordinator.replay(p, key, value)
    other.coordinator.finish_loading(p)
    assert other.markers.sent == [(7, 1000, 0, True, frozenset({TP0, TP1}))]
    other.markers.deliver()
    assert other.state() == TxnState.COMPLETE_COMMIT


def test_markers_written_after_losing_the_partition_do_nothing() -> None:
    h = Harness()
    producer = h.init()
    h.add(producer, TP0)
    h.end(producer, commit=True)
    writes = len(h.log.records)
    h.coordinator.unload(h.coordinator.partition_for("t"))
    h.markers.deliver()
    assert len(h.log.records) == writes


def test_failed_complete_write_is_retried_by_tick() -> None:
    h = Harness()
    producer = h.init()
    h.add(producer, TP0)
    h.end(producer, commit=True)
    h.log.refuse = True
    h.markers.deliver()
    assert h.state() == TxnState.PREPARE_COMMIT
    h.log.refuse = False
    h.coordinator.tick(h.clock.now_ms())
    assert h.state() == TxnState.COMPLETE_COMMIT


def test_describe_and_list() -> None:
    h = Harness()
    producer = h.init("a")
    h.add(producer, TP0, txn_id="a")
    h.init("b")
    error, description = h.coordinator.describe("a")
    assert error == ErrorCode.none
    assert description is not None
    assert (description.state, description.producer_id, description.partitions) == (
        "Ongoing",
        1000,
        frozenset({TP0}),
    )
    error, found, unknown = h.coordinator.list_transactions(states=["Ongoing", "Bogus"])
    assert error == ErrorCode.none
    assert unknown == ["Bogus"]
    assert [t.transactional_id for t in found] == ["a"]
    _, found, _ = h.coordinator.list_transactions(producer_ids=[1001])
    assert [t.transactional_id for t in found] == ["b"]
    h.clock.advance(5_000)
    _, found, _ = h.coordinator.list_transactions(min_duration_ms=4_000, now_ms=h.clock.now_ms())
    assert [t.transactional_id for t in found] == ["a"]


def test_markers_written_during_another_write_complete_on_the_next_tick() -> None:
    h = Harness()
    producer = h.init()
    h.add(producer, TP0)
    h.end(producer, commit=True)
    meta = h.coordinator.metadata("t")
    assert meta is not None
    meta.pending = meta.transit()  # some write of this id still in flight when the markers land
    h.markers.deliver()
    assert h.state() == TxnState.PREPARE_COMMIT
    meta.pending = None
    h.coordinator.tick(h.clock.now_ms())
    assert h.state() == TxnState.COMPLETE_COMMIT
