"""Kafka's LogValidator rules for what a producer sends, checked before anything reaches the log.

`validate_batches` (batch.py) has already checked the framing and each batch's CRC. Here, per Kafka's
LogValidator and DefaultRecordBatch/DefaultRecord readers:

- one batch per partition per request (magic v2), with base_offset 0;
- last_offset_delta + 1 == records_count > 0; no control batches; a producer id needs a base sequence;
- the records section holds exactly records_count well-formed records (each length matches its fields,
  header counts and key/value lengths fit) with offset deltas 0, 1, 2, ... (Kafka rewrites compressed
  batches whose inner offsets skip; brook, which writes batches as they came, rejects them);
- per record (Kafka's RecordError, reported in Produce v8+): a key on compacted topics (INVALID_RECORD)
  and, for CreateTime topics, a timestamp within [now - before_max_ms, now + after_max_ms]
  (INVALID_TIMESTAMP); a batch that claims LogAppendTime is the broker's business, not the producer's.

Uncompressed records are scanned in place (record_scan.py), one varint at a time, without building
Record objects.
Compressed ones are inflated as a stream in bounded chunks (records/inflate.py) and scanned record by
record as each completes; a record past 4 MiB has its key and value bytes skipped, never kept, so a
batch costs a few MiB of memory at most whatever it inflates to, and inflating more than
`max_uncompressed_bytes` rejects it (MESSAGE_TOO_LARGE).
"""

from __future__ import annotations

from brook.common.errors import BrookError, InvalidRecord, InvalidTimestamp
from brook.records.batch import BATCH_HEADER_SIZE, BatchHeader, Compression
from brook.records.inflate import inflate_chunks
from brook.records.record_scan import (
    LONG_MAX,
    RecordChecks,
    ValidationPolicy,
    scan_contiguous,
    scan_inflated,
)

__all__ = ["LONG_MAX", "ValidationPolicy", "checks_each_record", "validate_records"]

_MAX_ERRORS_SHOWN = 3


def validate_records(
    buf: bytes | bytearray | memoryview,
    batches: list[tuple[int, BatchHeader]],
    policy: ValidationPolicy,
    now_ms: int,
) -> None:
    """Raise InvalidRecord, InvalidTimestamp (with record_errors), CorruptMessage or MessageTooLarge."""
    if len(batches) != 1:
        raise InvalidRecord("Compressed outer record has more than one batch")  # Kafka's words for v2
    pos, header = batches[0]
    _check_header(header)
    view = memoryview(buf)[pos + BATCH_HEADER_SIZE : pos + header.size]
    check_timestamps = _checks_timestamps(policy, header.timestamp_type)
    walks = checks_each_record(policy, header.timestamp_type)
    scan = RecordChecks(header, policy, now_ms, check_timestamps, [], walks)
    if header.compression == Compression.none:
        scan_contiguous(bytes(view), scan)
    else:
        scan_inflated(inflate_chunks(header.compression, view, policy.max_uncompressed_bytes), scan)
    _raise_record_errors(scan.errors)


def _checks_timestamps(policy: ValidationPolicy, timestamp_type: int) -> bool:
    """The timestamp rules only bite when a bound is set, or when a batch claims LogAppendTime."""
    return (
        policy.timestamp_before_max_ms < LONG_MAX
        or policy.timestamp_after_max_ms < LONG_MAX
        or bool(timestamp_type)
    )


def checks_each_record(policy: ValidationPolicy, timestamp_type: int) -> bool:
    """Does validating a batch (of this timestamp type) under `policy` look at every record: its key (a
    compacted topic) or its timestamp? Then the records are walked in Python, field by field (the C scan only
    frames records it need not look into): ~100 us per KiB of records dense with headers."""
    return policy.require_keys or _checks_timestamps(policy, timestamp_type)


def _check_header(header: BatchHeader) -> None:
    """LogValidator.validateBatch and UnifiedLog.analyzeAndValidateRecords, for AppendOrigin.CLIENT."""
    if header.base_offset != 0:
        raise InvalidRecord(f"The baseOffset of the record batch should be 0, but it is {header.base_offset}")
    count_from_offsets = header.last_offset_delta + 1
    if count_from_offsets <= 0:
        raise InvalidRecord(f"Batch has an invalid offset range: [0, {header.last_offset_delta}]")
    if header.records_count <= 0:
        raise InvalidRecord(f"Invalid reported count for record batch: {header.records_count}")
    if count_from_offsets != header.records_count:
        raise InvalidRecord(
            f"Inconsistent batch offset range [0, {header.last_offset_delta}] and count of records "
            f"{header.records_count}"
        )
    if header.is_control:
        raise InvalidRecord("Clients are not allowed to write control records")
    if header.producer_id >= 0 and header.base_sequence < 0:
        raise InvalidRecord(
            f"Invalid sequence number {header.base_sequence} in record batch with producerId "
            f"{header.producer_id}"
        )


def _raise_record_errors(errors: list[tuple[int, str | None, bool]]) -> None:
    if not errors:
        return
    record_errors = tuple((index, message) for index, message, _ in errors)
    exc: BrookError
    if any(is_timestamp for _, _, is_timestamp in errors):
        exc = InvalidTimestamp("One or more records have been rejected due to invalid timestamp")
    else:
        shown = ", ".join(
            f"RecordError(batchIndex={i}, message='{m}')" for i, m in record_errors[:_MAX_ERRORS_SHOWN]
        )
        exc = InvalidRecord(
            f"One or more records have been rejected due to {len(errors)} record errors in total, and only "
            f"showing the first three errors at most: [{shown}]"
        )
    exc.record_errors = record_errors
    raise exc
