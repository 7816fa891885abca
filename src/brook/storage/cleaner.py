"""Log compaction (cleanup.policy=compact): keep only the latest record per key in inactive segments.

One pass over a log:
  1. Pick the cleanable segments: every inactive segment, oldest first, stopping at the first one
     holding a record newer than min_compaction_lag_ms (the active segment is never touched).
  2. Build the offset map key -> latest offset over those segments (this decodes records).
  3. Rewrite each segment that loses records: a batch whose records all survive is copied byte for byte;
     otherwise it is rebuilt with the survivors, keeping its base offset, last offset delta, attributes
     (codec included), partition leader epoch and producer id/epoch/base sequence, with a new CRC32C.
     Offsets never change (gaps are fine); batches left empty are dropped; control batches are kept.
     Tombstones (null value) survive until their segment is older than delete_retention_ms, so consumers
     that are behind still see the delete. Records without a key are dropped, as Kafka's cleaner does.

Transactions (Kafka's LogCleaner rules): cleaning stops before the segment holding the log's first
unstable offset (`FileLog.cleaner_upper_bound`, the LSO its partition gives), so a record of an open
transaction never shadows an older committed value; records of aborted transactions (the log's
.txnindex) neither enter the offset map nor survive a rewrite. A COMMIT/ABORT marker goes once no record
of its transaction is left (cleaning always starts at the log's first segment, so a transaction's data
is seen before its marker) and its segment is older than delete_retention_ms, as tombstones; an ABORT
marker's .txnindex entry goes with it, so a consumer never filters a producer's later records against
an abort whose marker it cannot see.

Swap protocol (crash safe, see loader.py): the new segment is written to `<base>.log.cleaned`, fsynced,
renamed to `<base>.log.swap` (the commit point), the old segment is renamed to `.deleted` (open reads keep
their fd), and `.swap` becomes `.log`. A crash before the swap rename leaves the old segment; after it,
the loader finishes the swap.
"""

from __future__ import annotations

import logging
import os

from brook.common.files import fsync_dir, write_fully
from brook.records.batch import BatchHeader, iter_batches
from brook.records.control import parse_end_txn_marker
from brook.records.records import Record, iter_records, rebuild_batch
from brook.storage.loader import CLEANED_SUFFIX, SWAP_SUFFIX
from brook.storage.log import FileLog
from brook.storage.segment import LogSegment

__all__ = ["AbortedRanges", "TransactionsSeen", "clean_log", "compact_batches"]

logger = logging.getLogger(__name__)


def _read_segment(segment: LogSegment) -> bytes:
    return os.pread(segment.fd, segment.size, 0)


def _cleanable_segments(log: FileLog, now_ms: int) -> list[LogSegment]:
    out = []
    upper_bound = log.cleaner_upper_bound()
    for segment in log.segments[:-1]:
        if segment.max_timestamp > now_ms - log.config.min_compaction_lag_ms:
            break
        if upper_bound is not None and segment.next_offset > upper_bound:
            break  # holds (or follows) a transaction still open or not yet replicated
        out.append(segment)
    return out


class AbortedRanges:
    """Which transactional batches belong to an aborted transaction: producer id -> [first, last]."""

    def __init__(self, aborted: list[tuple[int, int, int]]) -> None:
        self._ranges: dict[int, list[tuple[int, int]]] = {}
        for producer_id, first, last in aborted:
            self._ranges.setdefault(producer_id, []).append((first, last))

    def holds(self, header: BatchHeader) -> bool:
        if not header.is_transactional or header.is_control:
            return False
        ranges = self._ranges.get(header.producer_id, ())
        return any(first <= header.base_offset <= last for first, last in ranges)


_NO_ABORTS = AbortedRanges([])


def build_offset_map(segments_data: list[bytes], aborted: AbortedRanges = _NO_ABORTS) -> dict[bytes, int]:
    latest: dict[bytes, int] = {}
    for data in segments_data:
        view = memoryview(data)
        for pos, header in iter_batches(view):
            if header.is_control or aborted.holds(header):
                continue
            for record in iter_records(view[pos : pos + header.size], header):
                if record.key is not None:
                    latest[record.key] = record.offset
    return latest


class TransactionsSeen:
    """Across one pass, in log order: whether each producer's current transaction keeps any record."""

    def __init__(self) -> None:
        self._has_data: dict[int, bool] = {}
        self.dropped_aborts: list[tuple[int, int]] = []  # (producer id, marker offset) of removed ABORTs

    def on_data(self, header: BatchHeader, kept: int) -> None:
        if header.is_transactional:
            pid = header.producer_id
            self._has_data[pid] = self._has_data.get(pid, False) or kept > 0

    def on_marker(self, header: BatchHeader) -> bool:
        """The marker ends its producer's transaction; True if that transaction kept no record."""
        return not self._has_data.pop(header.producer_id, False)


def compact_batches(
    data: bytes,
    latest: dict[bytes, int],
    *,
    drop_tombstones: bool,
    aborted: AbortedRanges = _NO_ABORTS,
    txns: TransactionsSeen | None = None,
) -> tuple[bytes, int]:
    """Compacted copy of `data` (whole batches) and the number of records removed. With `txns`,
    markers of transactions that kept no record are removed too when `drop_tombstones` (same horizon)."""
    txns = txns if txns is not None else TransactionsSeen()
    out = bytearray()
    removed = 0
    view = memoryview(data)
    for pos, header in iter_batches(view):
        raw = view[pos : pos + header.size]
        if header.is_control:
            marker = parse_end_txn_marker(raw, header) if header.records_count else None
            if marker is not None and txns.on_marker(header) and drop_tombstones:
                removed += header.records_count
                if not marker.is_commit:
                    txns.dropped_aborts.append((header.producer_id, header.base_offset))
                continue
            out += raw
            continue
        if aborted.holds(header):
            removed += header.records_count  # never visible to read_committed: gone, as in Kafka
            txns.on_data(header, 0)
            continue
        records = list(iter_records(raw, header))
        kept = [r for r in records if _retain(r, latest, drop_tombstones)]
        removed += len(records) - len(kept)
        txns.on_data(header, len(kept))
        if len(kept) == len(records):
            out += raw
        elif kept:
            out += rebuild_batch(header, kept)
    return bytes(out), removed


def _retain(record: Record, latest: dict[bytes, int], drop_tombstones: bool) -> bool:
    if record.key is None or latest.get(record.key) != record.offset:
        return False
    return not (drop_tombstones and record.value is None)


def clean_log(log: FileLog, now_ms: int) -> bool:
    """One compaction pass; returns True when some segment was rewritten."""
    segments = _cleanable_segments(log, now_ms)
    if not segments:
        return False
    contents = [_read_segment(s) for s in segments]
    aborted = AbortedRanges([(t.producer_id, t.first_offset, t.last_offset) for t in log.aborted_txns()])
    latest = build_offset_map(contents, aborted)
    rewritten = 0
    removed_total = 0
    txns = TransactionsSeen()
    for segment, data in zip(segments, contents, strict=True):
        drop_tombstones = segment.max_timestamp < now_ms - log.config.delete_retention_ms
        cleaned, removed = compact_batches(
            data, latest, drop_tombstones=drop_tombstones, aborted=aborted, txns=txns
        )
        if removed == 0:
            continue
        _swap_in(log, segment, cleaned)
        rewritten += 1
        removed_total += removed
    if txns.dropped_aborts:
        log.discard_aborted_txns(set(txns.dropped_aborts))
    if rewritten:
        logger.info("compacted log tp=%s segments=%d records_removed=%d", log.tp, rewritten, removed_total)
    return rewritten > 0


def _swap_in(log: FileLog, old: LogSegment, data: bytes) -> None:
    cleaned = old.path.with_name(old.path.name + CLEANED_SUFFIX)
    swap = old.path.with_name(old.path.name + SWAP_SUFFIX)
    fd = os.open(cleaned, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_fully(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(cleaned, swap)
    fsync_dir(log.directory)
    log.replace_segment(old, swap)
