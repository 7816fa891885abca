"""The transaction coordinator's decisions as pure functions: metadata (and the request) in, an error code or
the transition to write out. Kafka's rules (TransactionCoordinator / TransactionMetadata, 3.9):

- InitProducerId: a pending write or a commit/abort in progress -> CONCURRENT_TRANSACTIONS; a given producer
  id/epoch (KIP-360) that is neither the current id nor a retry after an exhausted epoch -> PRODUCER_FENCED;
  Empty/Complete* -> the epoch is bumped (a new producer id once the epoch is exhausted), the state is Empty;
  Ongoing -> the open transaction is aborted under a bumped epoch (fencing its producer) and the client is told
  CONCURRENT_TRANSACTIONS, so it retries and gets the next epoch.
- AddPartitionsToTxn / AddOffsetsToTxn: unknown id or other producer id -> INVALID_PRODUCER_ID_MAPPING, other
  epoch -> PRODUCER_FENCED, completing -> CONCURRENT_TRANSACTIONS, nothing new -> no write, else Ongoing.
- EndTxn: Ongoing -> PrepareCommit/PrepareAbort; a retry of a finished commit/abort succeeds, one still
  completing gets CONCURRENT_TRANSACTIONS; anything else is INVALID_TXN_STATE.
"""

from __future__ import annotations

from collections.abc import Iterable

from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator.transaction.state import (
    NO_PRODUCER_EPOCH,
    TxnMetadata,
    TxnState,
    TxnTransit,
    is_epoch_exhausted,
    valid_transition,
)

__all__ = [
    "Decision",
    "FENCE",
    "decide_add_partitions",
    "decide_complete",
    "decide_end",
    "decide_expire",
    "decide_fence_abort",
    "decide_verify",
    "decide_init",
    "is_expired",
    "is_timed_out",
    "needs_new_producer_id",
    "valid_timeout",
]

Decision = ErrorCode | TxnTransit
FENCE = "fence"  # decide_init's answer for an Ongoing transaction: abort it first (decide_fence_abort)

_COMPLETE = (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
_COMPLETING = (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)


def valid_timeout(timeout_ms: int, max_timeout_ms: int) -> bool:
    """transaction.timeout.ms must be positive and at most transaction.max.timeout.ms."""
    return 0 < timeout_ms <= max_timeout_ms


def _valid_expected(meta: TxnMetadata, expected: tuple[int, int]) -> bool:
    producer_id, epoch = expected
    return (
        meta.producer_epoch == NO_PRODUCER_EPOCH
        or producer_id == meta.producer_id
        or (producer_id == meta.last_producer_id and is_epoch_exhausted(epoch))
    )


def needs_new_producer_id(meta: TxnMetadata | None, expected: tuple[int, int] | None) -> bool:
    """Whether InitProducerId will want a fresh producer id (an unknown transactional id, or an exhausted epoch)."""
    if meta is None:
        return True
    return is_epoch_exhausted(meta.producer_epoch) and (
        expected is None or expected[1] == meta.producer_epoch
    )


def decide_init(
    meta: TxnMetadata,
    timeout_ms: int,
    expected: tuple[int, int] | None,
    now_ms: int,
    new_producer_id: int | None,
) -> Decision | str:
    """InitProducerId for a known (or just created, epoch -1) transactional id: the Empty transition to write,
    FENCE for an open transaction, or an error."""
    if meta.pending is not None:
        return ErrorCode.concurrent_transactions
    if expected is not None and not _valid_expected(meta, expected):
        return ErrorCode.producer_fenced
    if meta.state in _COMPLETING:
        return ErrorCode.concurrent_transactions
    if meta.state == TxnState.ONGOING:
        return FENCE
    if meta.state not in (TxnState.EMPTY, *_COMPLETE):
        return ErrorCode.concurrent_transactions  # Dead / PrepareEpochFence are never the settled state
    reset = {
        "timeout_ms": timeout_ms,
        "state": TxnState.EMPTY,
        "partitions": frozenset(),
        "start_ms": -1,
        "last_update_ms": now_ms,
    }
    if needs_new_producer_id(meta, expected) and meta.producer_epoch != NO_PRODUCER_EPOCH:
        if new_producer_id is None:
            return ErrorCode.coordinator_not_available
        last_epoch = meta.producer_epoch if expected is not None else NO_PRODUCER_EPOCH
        return meta.transit(
            producer_id=new_producer_id,
            last_producer_id=meta.producer_id,
            producer_epoch=0,
            last_producer_epoch=last_epoch,
            **reset,
        )
    bumped = meta.producer_epoch + 1
    if expected is None:
        epoch, last_epoch = bumped, NO_PRODUCER_EPOCH
    elif meta.producer_epoch == NO_PRODUCER_EPOCH or expected[1] == meta.producer_epoch:
        epoch, last_epoch = bumped, meta.producer_epoch
    elif expected[1] == meta.last_producer_epoch:
        epoch, last_epoch = (
            meta.producer_epoch,
            meta.last_producer_epoch,
        )  # a retry: its bump already happened
    else:
        return ErrorCode.producer_fenced
    return meta.transit(producer_epoch=epoch, last_producer_epoch=last_epoch, **reset)


def decide_fence_abort(meta: TxnMetadata, now_ms: int) -> Decision:
    """Abort an open transaction under a bumped epoch, so its producer is fenced (InitProducerId from a new
    instance, or the transaction outlived its timeout). Kafka's PrepareEpochFence then PrepareAbort."""
    if meta.pending is not None:
        return ErrorCode.concurrent_transactions
    if meta.state != TxnState.ONGOING:
        return ErrorCode.invalid_txn_state
    epoch = meta.producer_epoch if is_epoch_exhausted(meta.producer_epoch) else meta.producer_epoch + 1
    return meta.transit(
        producer_epoch=epoch,
        last_producer_epoch=NO_PRODUCER_EPOCH,
        state=TxnState.PREPARE_ABORT,
        last_update_ms=now_ms,
    )


def _check_producer(meta: TxnMetadata | None, producer_id: int, producer_epoch: int) -> ErrorCode | None:
    if meta is None or meta.producer_id != producer_id:
        return ErrorCode.invalid_producer_id_mapping
    if meta.producer_epoch != producer_epoch:
        return ErrorCode.producer_fenced
    return None


def decide_add_partitions(
    meta: TxnMetadata | None,
    producer_id: int,
    producer_epoch: int,
    partitions: Iterable[TopicPartition],
    now_ms: int,
) -> Decision:
    """AddPartitionsToTxn / AddOffsetsToTxn: ErrorCode.none when nothing needs writing."""
    error = _check_producer(meta, producer_id, producer_epoch)
    if error is not None:
        return error
    assert meta is not None
    if meta.pending is not None or meta.state in _COMPLETING:
        return ErrorCode.concurrent_transactions
    added = frozenset(partitions)
    if meta.state == TxnState.ONGOING and added <= meta.partitions:
        return ErrorCode.none
    if not valid_transition(meta.state, TxnState.ONGOING):
        return ErrorCode.invalid_txn_state
    start_ms = now_ms if meta.state != TxnState.ONGOING else meta.start_ms
    return meta.transit(
        state=TxnState.ONGOING,
        partitions=meta.partitions | added,
        start_ms=start_ms,
        last_update_ms=now_ms,
    )


def decide_verify(
    meta: TxnMetadata | None, producer_id: int, producer_epoch: int, partitions: Iterable[TopicPartition]
) -> ErrorCode | dict[TopicPartition, ErrorCode]:
    """AddPartitionsToTxn v4+ with verify_only (a partition leader asking before it takes a transactional batch,
    KIP-890): one error for all, or per partition NONE if it is in the transaction, else TRANSACTION_ABORTABLE.
    A write in flight is not checked (as Kafka: the append is validated again)."""
    error = _check_producer(meta, producer_id, producer_epoch)
    if error is not None:
        return error
    assert meta is not None
    if meta.state in _COMPLETING:
        return ErrorCode.concurrent_transactions
    return {
        tp: ErrorCode.none if tp in meta.partitions else ErrorCode.transaction_abortable for tp in partitions
    }


def decide_end(
    meta: TxnMetadata | None, producer_id: int, producer_epoch: int, commit: bool, now_ms: int
) -> Decision:
    """EndTxn from the client: the Prepare* transition, ErrorCode.none for a retry of a finished one, or an error."""
    error = _check_producer(meta, producer_id, producer_epoch)
    if error is not None:
        return error
    assert meta is not None
    if meta.pending is not None:
        return ErrorCode.concurrent_transactions
    state = meta.state
    if state == TxnState.ONGOING:
        target = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
        return meta.transit(state=target, last_update_ms=now_ms)
    if state == (TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT):
        return ErrorCode.none
    if state == (TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT):
        return ErrorCode.concurrent_transactions
    return ErrorCode.invalid_txn_state


def decide_complete(meta: TxnMetadata, now_ms: int) -> Decision:
    """Once every marker is written: PrepareCommit -> CompleteCommit, PrepareAbort -> CompleteAbort."""
    if meta.pending is not None:
        return ErrorCode.concurrent_transactions
    if meta.state == TxnState.PREPARE_COMMIT:
        target = TxnState.COMPLETE_COMMIT
    elif meta.state == TxnState.PREPARE_ABORT:
        target = TxnState.COMPLETE_ABORT
    else:
        return ErrorCode.invalid_txn_state
    return meta.transit(state=target, partitions=frozenset(), last_update_ms=now_ms)


def is_timed_out(meta: TxnMetadata, now_ms: int) -> bool:
    """An open transaction older than its transaction.timeout.ms (the coordinator aborts it)."""
    return (
        meta.state == TxnState.ONGOING and meta.pending is None and meta.start_ms + meta.timeout_ms < now_ms
    )


def is_expired(meta: TxnMetadata, now_ms: int, expiration_ms: int) -> bool:
    """An idle transactional id unused for transactional.id.expiration.ms (its record is deleted)."""
    return (
        meta.state in (TxnState.EMPTY, *_COMPLETE)
        and meta.pending is None
        and meta.last_update_ms + expiration_ms <= now_ms
    )


def decide_expire(meta: TxnMetadata, now_ms: int) -> TxnTransit:
    return meta.transit(state=TxnState.DEAD, partitions=frozenset(), last_update_ms=now_ms)
