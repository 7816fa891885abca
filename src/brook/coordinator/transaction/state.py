"""A transactional id's state, as Kafka's TransactionMetadata keeps it, and the legal moves between states.

    Empty ──AddPartitions──▶ Ongoing ──EndTxn──▶ PrepareCommit ──markers written──▶ CompleteCommit
      ▲                        │  └─────EndTxn(abort)/timeout──▶ PrepareAbort ──markers──▶ CompleteAbort
      └──InitProducerId────────┘(fence: PrepareEpochFence, then PrepareAbort with the bumped epoch)

Complete* and Empty accept a new transaction (Ongoing) or an epoch bump (Empty); Empty and Complete* expire
to Dead after transactional.id.expiration.ms. The numeric ids are the TransactionStatus byte of Kafka's
`__transaction_state` value, the names what DescribeTransactions/ListTransactions report.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from brook.common.types import TopicPartition

__all__ = [
    "NO_PRODUCER_EPOCH",
    "NO_PRODUCER_ID",
    "TxnMetadata",
    "TxnState",
    "TxnTransit",
    "is_epoch_exhausted",
    "valid_transition",
]

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
_MAX_EPOCH = 32767  # Short.MaxValue


class TxnState(enum.IntEnum):
    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def kafka_name(self) -> str:
        return _NAMES[self]

    @classmethod
    def from_kafka_name(cls, name: str) -> TxnState | None:
        for state, known in _NAMES.items():
            if known.lower() == name.lower():
                return state
        return None


_NAMES = {
    TxnState.EMPTY: "Empty",
    TxnState.ONGOING: "Ongoing",
    TxnState.PREPARE_COMMIT: "PrepareCommit",
    TxnState.PREPARE_ABORT: "PrepareAbort",
    TxnState.COMPLETE_COMMIT: "CompleteCommit",
    TxnState.COMPLETE_ABORT: "CompleteAbort",
    TxnState.DEAD: "Dead",
    TxnState.PREPARE_EPOCH_FENCE: "PrepareEpochFence",
}

_COMPLETE = (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
# Kafka's TransactionState.validPreviousStates
_VALID_PREVIOUS: dict[TxnState, frozenset[TxnState]] = {
    TxnState.EMPTY: frozenset({TxnState.EMPTY, *_COMPLETE}),
    TxnState.ONGOING: frozenset({TxnState.ONGOING, TxnState.EMPTY, *_COMPLETE}),
    TxnState.PREPARE_COMMIT: frozenset({TxnState.ONGOING}),
    TxnState.PREPARE_ABORT: frozenset({TxnState.ONGOING, TxnState.PREPARE_EPOCH_FENCE}),
    TxnState.COMPLETE_COMMIT: frozenset({TxnState.PREPARE_COMMIT}),
    TxnState.COMPLETE_ABORT: frozenset({TxnState.PREPARE_ABORT}),
    TxnState.DEAD: frozenset({TxnState.EMPTY, *_COMPLETE}),
    TxnState.PREPARE_EPOCH_FENCE: frozenset({TxnState.ONGOING}),
}


def valid_transition(current: TxnState, target: TxnState) -> bool:
    return current in _VALID_PREVIOUS[target]


def is_epoch_exhausted(epoch: int) -> bool:
    """Kafka keeps one epoch in reserve (for the fence bump): at Short.MaxValue - 1 a new producer id is due."""
    return epoch >= _MAX_EPOCH - 1


@dataclass(frozen=True, slots=True)
class TxnTransit:
    """What a transition writes to `__transaction_state` (and the metadata holds once it is replicated)."""

    producer_id: int
    last_producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    timeout_ms: int
    state: TxnState
    partitions: frozenset[TopicPartition]
    start_ms: int
    last_update_ms: int


@dataclass(slots=True)
class TxnMetadata:
    """One transactional id, owned by the coordinator of its `__transaction_state` partition.

    `pending` is the transition being written (at most one at a time: a request meeting one gets
    CONCURRENT_TRANSACTIONS)."""

    transactional_id: str
    producer_id: int
    last_producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    timeout_ms: int = 60_000
    state: TxnState = TxnState.EMPTY
    partitions: frozenset[TopicPartition] = field(default_factory=frozenset)
    start_ms: int = -1
    last_update_ms: int = -1
    pending: TxnTransit | None = None

    def transit(self, **changes: object) -> TxnTransit:
        base = TxnTransit(
            producer_id=self.producer_id,
            last_producer_id=self.last_producer_id,
            producer_epoch=self.producer_epoch,
            last_producer_epoch=self.last_producer_epoch,
            timeout_ms=self.timeout_ms,
            state=self.state,
            partitions=self.partitions,
            start_ms=self.start_ms,
            last_update_ms=self.last_update_ms,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def apply(self, transit: TxnTransit) -> None:
        """Take on a transition's values (after its record is replicated, or when replaying the log)."""
        self.producer_id = transit.producer_id
        self.last_producer_id = transit.last_producer_id
        self.producer_epoch = transit.producer_epoch
        self.last_producer_epoch = transit.last_producer_epoch
        self.timeout_ms = transit.timeout_ms
        self.state = transit.state
        self.partitions = transit.partitions
        self.start_ms = transit.start_ms
        self.last_update_ms = transit.last_update_ms
