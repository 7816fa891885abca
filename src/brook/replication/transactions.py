"""A partition's side of transactions: what appended batches do to its producer state and its
aborted-transaction index, and its last stable offset (Kafka's UnifiedLog/ProducerStateManager rules).

Leader and follower run the same `apply_appended` on what they appended, so a follower that becomes
leader has the same open transactions, LSO and .txnindex entries (markers replicate like any batch).
"""

from __future__ import annotations

import logging

from brook.common.errors import CorruptMessage
from brook.records.batch import BatchHeader
from brook.records.control import EndTxnMarker, parse_end_txn_marker
from brook.storage.api import PartitionLog
from brook.storage.producer_state import ProducerStateManager
from brook.storage.txn_index import AbortedTxn

__all__ = ["apply_appended", "apply_marker", "last_stable_offset", "rebuild_from_log"]

logger = logging.getLogger(__name__)


def last_stable_offset(state: ProducerStateManager, high_watermark: int, log_start_offset: int) -> int:
    """LSO = min(first offset of every open or not yet replicated transaction, high watermark), never
    below the log start (retention or DeleteRecords may pass an open transaction's start: Kafka's
    UnifiedLog then takes the log start as the first unstable offset)."""
    first_unstable = state.first_unstable_offset(high_watermark)
    if first_unstable is None:
        return high_watermark
    return min(max(first_unstable, log_start_offset), high_watermark)


def apply_appended(
    state: ProducerStateManager,
    log: PartitionLog,
    data: bytes | bytearray | memoryview,
    batches: list[tuple[int, BatchHeader]],
    first_offset: int,
    now_ms: int,
) -> None:
    """Record batches just appended at `first_offset` on (their headers may predate the offsets)."""
    state.prune_replicated(log.high_watermark)
    offset = first_offset
    for pos, header in batches:
        if header.is_control:
            marker = _marker_of(data, pos, header)
            if marker is not None:
                apply_marker(state, log, header.producer_id, header.producer_epoch, offset, marker, now_ms)
        else:
            state.record(header, offset, now_ms)
        offset += header.last_offset_delta + 1


def apply_marker(
    state: ProducerStateManager,
    log: PartitionLog,
    producer_id: int,
    producer_epoch: int,
    offset: int,
    marker: EndTxnMarker,
    now_ms: int,
) -> None:
    """A marker of `producer_id` was appended at `offset`: complete its transaction, index an abort."""
    completed = state.record_marker(producer_id, producer_epoch, offset, marker, now_ms)
    if completed is not None and completed.is_aborted:
        log.append_aborted_txn(
            AbortedTxn(producer_id, completed.first_offset, offset, state.last_stable_offset_after(completed))
        )


def _complete(
    state: ProducerStateManager,
    log: PartitionLog,
    header: BatchHeader,
    offset: int,
    marker: EndTxnMarker,
    now_ms: int,
    *,
    index: bool,
) -> AbortedTxn | None:
    completed = state.record_marker(header.producer_id, header.producer_epoch, offset, marker, now_ms)
    if completed is None or not completed.is_aborted:
        return None
    txn = AbortedTxn(
        completed.producer_id,
        completed.first_offset,
        completed.last_offset,
        state.last_stable_offset_after(completed),
    )
    if index:
        log.append_aborted_txn(txn)
    return txn


def _marker_of(data: bytes | bytearray | memoryview, pos: int, header: BatchHeader) -> EndTxnMarker | None:
    try:
        return parse_end_txn_marker(memoryview(data)[pos : pos + header.size], header)
    except (CorruptMessage, ValueError, IndexError) as exc:
        logger.warning("unreadable control batch at offset %d: %s", header.base_offset, exc)
        return None


def rebuild_from_log(state: ProducerStateManager, log: PartitionLog, now_ms: int) -> None:
    """Replay batch headers (and the one record of each control batch) into an empty `state`, then make
    the aborted-transaction index hold exactly the aborted transactions the replay found.

    Segments whose largest timestamp is older than producer.id.expiration.ms are skipped while they
    come first (their producers would be expired anyway); from the first segment read on, every batch
    is replayed, so a transaction is never seen without its start or its marker in between."""
    cutoff = now_ms - state.expiration_ms
    first = next(iter(log.batch_headers(log.log_start_offset, newer_than_ms=cutoff)), None)
    if first is None:
        return
    aborted: list[AbortedTxn] = []
    high_watermark = log.high_watermark
    for header, data in log.replay_batches(first.base_offset):
        if not header.is_control:
            state.record(header, header.base_offset, now_ms)
            continue
        if data is None or len(data) < header.size:
            continue
        marker = _marker_of(data, 0, header)
        if marker is not None:
            state.prune_replicated(high_watermark)
            txn = _complete(state, log, header, header.base_offset, marker, now_ms, index=False)
            if txn is not None:
                aborted.append(txn)
    log.replace_aborted_txns(first.base_offset, aborted)
