"""The transaction coordinator (KIP-98): transactional ids, their producer epochs and two-phase commits, kept in
`__transaction_state`. Sans-IO like the group coordinator: the broker appends its records, replays the topic's
partitions into it, sends the markers it asks for and calls `tick(now_ms)`."""

from brook.coordinator.transaction.coordinator import (
    InitResult,
    MarkerSender,
    TransactionConfig,
    TransactionCoordinator,
    TxnDescription,
    TxnLogWriter,
    TxnMarkers,
)
from brook.coordinator.transaction.log_format import TRANSACTION_STATE_TOPIC
from brook.coordinator.transaction.state import TxnMetadata, TxnState

__all__ = [
    "TRANSACTION_STATE_TOPIC",
    "InitResult",
    "MarkerSender",
    "TransactionConfig",
    "TransactionCoordinator",
    "TxnDescription",
    "TxnLogWriter",
    "TxnMarkers",
    "TxnMetadata",
    "TxnState",
]
