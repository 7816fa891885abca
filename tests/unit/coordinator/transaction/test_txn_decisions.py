"""The transaction coordinator's pure decisions (coordinator/transaction/decisions.py), called directly."""

from __future__ import annotations

import pytest

from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator.transaction import decisions as d
from brook.coordinator.transaction.state import TxnMetadata, TxnState, TxnTransit

TP = TopicPartition("t", 0)


def _meta(state: TxnState = TxnState.EMPTY, epoch: int = 3, **kwargs: object) -> TxnMetadata:
    return TxnMetadata("tx", 100, producer_epoch=epoch, state=state, **kwargs)  # type: ignore[arg-type]


def test_valid_timeout() -> None:
    assert d.valid_timeout(1, 900_000)
    assert d.valid_timeout(900_000, 900_000)
    assert not d.valid_timeout(900_001, 900_000)
    assert not d.valid_timeout(0, 900_000)


@pytest.mark.parametrize("state", [TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT])
def test_init_bumps_the_epoch_and_resets_to_empty(state: TxnState) -> None:
    decision = d.decide_init(_meta(state, partitions=frozenset({TP}), start_ms=5), 7_000, None, 42, None)
    assert isinstance(decision, TxnTransit)
    assert (decision.producer_id, decision.producer_epoch, decision.last_producer_epoch) == (100, 4, -1)
    assert (decision.state, decision.partitions, decision.timeout_ms, decision.start_ms) == (
        TxnState.EMPTY,
        frozenset(),
        7_000,
        -1,
    )
    assert decision.last_update_ms == 42


@pytest.mark.parametrize(
    ("state", "answer"),
    [
        (TxnState.ONGOING, d.FENCE),
        (TxnState.PREPARE_COMMIT, ErrorCode.concurrent_transactions),
        (TxnState.PREPARE_ABORT, ErrorCode.concurrent_transactions),
    ],
)
def test_init_during_a_transaction(state: TxnState, answer: object) -> None:
    assert d.decide_init(_meta(state), 7_000, None, 0, None) == answer


def test_init_with_a_pending_write_waits() -> None:
    meta = _meta()
    meta.pending = meta.transit()
    assert d.decide_init(meta, 7_000, None, 0, None) == ErrorCode.concurrent_transactions


def test_kip360_expected_epochs() -> None:
    meta = _meta(epoch=3)
    bumped = d.decide_init(meta, 1, (100, 3), 0, None)
    assert isinstance(bumped, TxnTransit)
    assert (bumped.producer_epoch, bumped.last_producer_epoch) == (4, 3)
    meta.apply(bumped)
    retried = d.decide_init(meta, 1, (100, 3), 0, None)  # the answer to the bump was lost
    assert isinstance(retried, TxnTransit)
    assert (retried.producer_epoch, retried.last_producer_epoch) == (4, 3)
    assert d.decide_init(meta, 1, (100, 1), 0, None) == ErrorCode.producer_fenced
    assert d.decide_init(meta, 1, (555, 4), 0, None) == ErrorCode.producer_fenced


def test_exhausted_epoch_needs_and_takes_a_new_producer_id() -> None:
    meta = _meta(epoch=32766)
    assert d.needs_new_producer_id(meta, None)
    assert not d.needs_new_producer_id(_meta(epoch=5), None)
    assert d.needs_new_producer_id(None, None)
    assert d.decide_init(meta, 1, None, 0, None) == ErrorCode.coordinator_not_available
    rotated = d.decide_init(meta, 1, None, 0, 200)
    assert isinstance(rotated, TxnTransit)
    assert (rotated.producer_id, rotated.last_producer_id, rotated.producer_epoch) == (200, 100, 0)


def test_fence_abort_bumps_the_epoch_into_prepare_abort() -> None:
    decision = d.decide_fence_abort(_meta(TxnState.ONGOING, partitions=frozenset({TP})), 9)
    assert isinstance(decision, TxnTransit)
    assert (decision.state, decision.producer_epoch, decision.partitions) == (
        TxnState.PREPARE_ABORT,
        4,
        frozenset({TP}),
    )
    assert d.decide_fence_abort(_meta(TxnState.EMPTY), 9) == ErrorCode.invalid_txn_state


def test_add_partitions() -> None:
    assert d.decide_add_partitions(None, 100, 3, [TP], 0) == ErrorCode.invalid_producer_id_mapping
    assert d.decide_add_partitions(_meta(), 101, 3, [TP], 0) == ErrorCode.invalid_producer_id_mapping
    assert d.decide_add_partitions(_meta(), 100, 2, [TP], 0) == ErrorCode.producer_fenced
    assert d.decide_add_partitions(_meta(TxnState.PREPARE_COMMIT), 100, 3, [TP], 0) == (
        ErrorCode.concurrent_transactions
    )
    started = d.decide_add_partitions(_meta(), 100, 3, [TP], 50)
    assert isinstance(started, TxnTransit)
    assert (started.state, started.partitions, started.start_ms) == (TxnState.ONGOING, frozenset({TP}), 50)
    ongoing = _meta(TxnState.ONGOING, partitions=frozenset({TP}), start_ms=50)
    assert d.decide_add_partitions(ongoing, 100, 3, [TP], 60) == ErrorCode.none  # nothing new
    more = d.decide_add_partitions(ongoing, 100, 3, [TopicPartition("t", 1)], 60)
    assert isinstance(more, TxnTransit)
    assert (len(more.partitions), more.start_ms) == (2, 50)


@pytest.mark.parametrize(
    ("state", "commit", "answer"),
    [
        (TxnState.COMPLETE_COMMIT, True, ErrorCode.none),
        (TxnState.COMPLETE_COMMIT, False, ErrorCode.invalid_txn_state),
        (TxnState.COMPLETE_ABORT, False, ErrorCode.none),
        (TxnState.PREPARE_COMMIT, True, ErrorCode.concurrent_transactions),
        (TxnState.PREPARE_ABORT, True, ErrorCode.invalid_txn_state),
        (TxnState.EMPTY, True, ErrorCode.invalid_txn_state),
    ],
)
def test_end_outside_ongoing(state: TxnState, commit: bool, answer: ErrorCode) -> None:
    assert d.decide_end(_meta(state), 100, 3, commit, 0) == answer


def test_end_of_ongoing_prepares_and_complete_clears_partitions() -> None:
    meta = _meta(TxnState.ONGOING, partitions=frozenset({TP}))
    prepared = d.decide_end(meta, 100, 3, True, 7)
    assert isinstance(prepared, TxnTransit)
    assert prepared.state == TxnState.PREPARE_COMMIT
    meta.apply(prepared)
    completed = d.decide_complete(meta, 8)
    assert isinstance(completed, TxnTransit)
    assert (completed.state, completed.partitions) == (TxnState.COMPLETE_COMMIT, frozenset())
    assert d.decide_end(meta, 100, 2, True, 7) == ErrorCode.producer_fenced


def test_timeouts_and_expiry() -> None:
    ongoing = _meta(TxnState.ONGOING, timeout_ms=1_000, start_ms=10_000)
    assert not d.is_timed_out(ongoing, 11_000)
    assert d.is_timed_out(ongoing, 11_001)
    idle = _meta(TxnState.COMPLETE_ABORT, last_update_ms=0)
    assert not d.is_expired(idle, 99, 100)
    assert d.is_expired(idle, 100, 100)
    assert not d.is_expired(_meta(TxnState.ONGOING, last_update_ms=0), 10**9, 100)
    assert d.decide_expire(idle, 5).state == TxnState.DEAD


def test_verify_answers_per_partition_whether_it_is_in_the_open_transaction() -> None:
    other = TopicPartition("t", 1)
    meta = _meta(TxnState.ONGOING, partitions=frozenset({TP}))
    assert d.decide_verify(meta, 100, 3, [TP, other]) == {
        TP: ErrorCode.none,
        other: ErrorCode.transaction_abortable,
    }
    assert d.decide_verify(meta, 100, 2, [TP]) == ErrorCode.producer_fenced
    assert d.decide_verify(meta, 101, 3, [TP]) == ErrorCode.invalid_producer_id_mapping
    assert d.decide_verify(None, 100, 3, [TP]) == ErrorCode.invalid_producer_id_mapping
    completing = _meta(TxnState.PREPARE_COMMIT, partitions=frozenset({TP}))
    assert d.decide_verify(completing, 100, 3, [TP]) == ErrorCode.concurrent_transactions
    # nothing open (Empty / Complete*): no partition is in a transaction
    assert d.decide_verify(_meta(TxnState.COMPLETE_COMMIT), 100, 3, [TP]) == {
        TP: ErrorCode.transaction_abortable
    }
