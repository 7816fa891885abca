"""ListOffsets by timestamp over a log's segments: the first record at or after a time, or the record
with the largest timestamp. Segments answer from their time and offset indexes; the last hop decodes
one batch's records. Pure reads on segments the caller owns (FileLog.offset_for_timestamp).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from brook.records.batch import BatchHeader
from brook.records.records import iter_records
from brook.storage.api import TimestampOffset
from brook.storage.segment import LogSegment

__all__ = ["first_offset_at_or_after", "max_timestamp_offset"]


def _batches_from(segment: LogSegment, position: int) -> Iterator[tuple[int, BatchHeader]]:
    while (header := segment.header_at(position)) is not None:
        yield position, header
        position += header.size


def first_offset_at_or_after(
    segments: Sequence[LogSegment], timestamp: int, log_start_offset: int
) -> TimestampOffset | None:
    for segment in segments:
        if segment.max_timestamp < timestamp or segment.next_offset <= log_start_offset:
            continue
        found = segment.find_by_timestamp(timestamp)
        if found is None:
            continue
        for position, header in _batches_from(segment, found[0]):
            if header.max_timestamp < timestamp or header.last_offset < log_start_offset:
                continue
            batch = segment.read_batch(position, header)
            for record in iter_records(batch, header):
                if record.timestamp >= timestamp and record.offset >= log_start_offset:
                    return TimestampOffset(record.timestamp, record.offset, header.partition_leader_epoch)
    return None


def max_timestamp_offset(segments: Sequence[LogSegment], log_start_offset: int) -> TimestampOffset | None:
    best: LogSegment | None = None
    for segment in segments:
        live = segment.next_offset > log_start_offset and segment.max_timestamp >= 0
        if live and (best is None or segment.max_timestamp > best.max_timestamp):
            best = segment
    if best is None:
        return None
    target = best.max_timestamp
    found = best.find_by_timestamp(target)
    if found is None:
        return None
    for position, header in _batches_from(best, found[0]):
        if header.max_timestamp == target and header.last_offset >= log_start_offset:
            for record in iter_records(best.read_batch(position, header), header):
                if record.timestamp == target and record.offset >= log_start_offset:
                    return TimestampOffset(target, record.offset, header.partition_leader_epoch)
    return None
