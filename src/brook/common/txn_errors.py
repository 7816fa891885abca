"""Errors of the transactional log side (markers, producer state), beside the BrookError tree in errors.py."""

from brook.common.errors import BrookError, ErrorCode

__all__ = ["InvalidTxnState", "TransactionCoordinatorFenced"]


class InvalidTxnState(BrookError):
    """A non-transactional batch from a producer whose transaction is open (ProducerAppendInfo)."""

    error_code = ErrorCode.invalid_txn_state


class TransactionCoordinatorFenced(BrookError):
    """A marker whose coordinator epoch is older than one this partition already saw."""

    error_code = ErrorCode.transaction_coordinator_fenced
