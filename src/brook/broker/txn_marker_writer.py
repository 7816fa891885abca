"""Writing commit/abort markers on this broker, for the partitions it leads: the work of WriteTxnMarkers
(key 27, handlers/write_txn_markers.py), also called directly by this broker's own transaction coordinator
for the partitions it leads itself (txn_markers.py), so such a marker skips the round trip through our own
listener (encode, socket, decode) and behaves exactly as one that came over the wire.

For each marker a COMMIT or ABORT control batch (records/control.py) is appended in the leader's epoch, as
Kafka appends markers: acks=all rules (NOT_ENOUGH_REPLICAS below min.insync.replicas), internal topics
allowed, done once the ISR has it (REQUEST_TIMED_OUT after 30 s, Kafka's request.timeout.ms;
NOT_LEADER_OR_FOLLOWER if leadership moved). Per-partition errors: UNKNOWN_TOPIC_OR_PARTITION (not hosted
here), NOT_LEADER_OR_FOLLOWER, INVALID_PRODUCER_EPOCH (the marker's producer epoch is older than the
partition's), TRANSACTION_COORDINATOR_FENCED (its coordinator epoch is older than a marker already written).
Markers take their turn in each partition's append order behind produce requests that arrived first.

After a partition's marker is replicated, every callback in `ReplicaManager.txn_marker_listeners` runs with
(tp, producer_id, producer_epoch, committed): the group coordinator's hook to make transactional offset
commits visible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.records.control import ControlType, EndTxnMarker

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["MarkerWrite", "write_markers"]

_REPLICATION_TIMEOUT_MS = 30_000  # Kafka waits request.timeout.ms (default 30 s) for the ISR


@dataclass(frozen=True)
class MarkerWrite:
    """One partition's marker of one transaction."""

    producer_id: int
    producer_epoch: int
    commit: bool
    coordinator_epoch: int
    tp: TopicPartition


async def write_markers(
    broker: Broker, wanted: list[MarkerWrite]
) -> dict[tuple[int, TopicPartition], ErrorCode]:
    """Append each marker and wait for the ISR; the error of each (producer id, partition)."""
    replicas = broker.replicas
    validator = broker.produce_validator
    turns = [validator.reserve(w.tp) for w in wanted]  # before the first await: arrival order
    errors: dict[tuple[int, TopicPartition], ErrorCode] = {}
    appended: dict[tuple[int, TopicPartition], int] = {}
    try:
        for w, turn in zip(wanted, turns, strict=True):
            await turn.wait()
            try:
                control = EndTxnMarker(
                    ControlType.COMMIT if w.commit else ControlType.ABORT, w.coordinator_epoch
                )
                info = replicas.append_txn_marker(w.tp, w.producer_id, w.producer_epoch, control)
                appended[(w.producer_id, w.tp)] = info.last_offset + 1
            except BrookError as exc:
                errors[(w.producer_id, w.tp)] = exc.error_code
            except Exception:
                logger.exception("appending a transaction marker failed tp=%s", w.tp)
                errors[(w.producer_id, w.tp)] = ErrorCode.unknown_server_error
            finally:
                turn.done()
    finally:
        for turn in turns:
            turn.done()
    if appended:
        failed = await replicas.wait_for_replication(
            [(tp, end) for (_, tp), end in appended.items()], _REPLICATION_TIMEOUT_MS
        )
        for producer_id, tp in appended:
            errors[(producer_id, tp)] = failed.get(tp, ErrorCode.none)
    for w in wanted:
        if errors.get((w.producer_id, w.tp)) == ErrorCode.none:
            for listener in list(replicas.txn_marker_listeners):
                try:
                    listener(w.tp, w.producer_id, w.producer_epoch, w.commit)
                except Exception:
                    logger.exception("transaction marker listener failed tp=%s", w.tp)
                    errors[(w.producer_id, w.tp)] = ErrorCode.unknown_server_error
    return errors
