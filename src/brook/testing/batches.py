"""Build valid v2 record batches for tests (CRC32C included), with any codec, headers and producer ids."""

from __future__ import annotations

from collections.abc import Sequence

from brook.records.batch import Compression
from brook.records.records import Header, Record, build_batch

__all__ = ["DEFAULT_TIMESTAMP_MS", "make_batch"]

DEFAULT_TIMESTAMP_MS = 1_700_000_000_000  # FakeClock's default start, so tests line up with it

RecordSpec = tuple[bytes | None, bytes | None] | tuple[bytes | None, bytes | None, Sequence[Header]]


def make_batch(
    records: Sequence[RecordSpec],
    base_offset: int = 0,
    timestamp: int = DEFAULT_TIMESTAMP_MS,
    compression: Compression | int = Compression.none,
    *,
    timestamps: Sequence[int] | None = None,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    transactional: bool = False,
    control: bool = False,
    log_append_time: bool = False,
) -> bytearray:
    """A batch holding `records`, each `(key, value)` or `(key, value, headers)`.

    Record i gets offset base_offset + i and timestamp `timestamps[i]` if given, else `timestamp` + i.
    """
    decoded = []
    for i, spec in enumerate(records):
        key, value = spec[0], spec[1]
        headers = tuple(spec[2]) if len(spec) > 2 else ()
        ts = timestamps[i] if timestamps is not None else timestamp + i
        decoded.append(Record(base_offset + i, ts, key, value, headers))
    attributes = int(compression) | (0x08 if log_append_time else 0)
    attributes |= (0x10 if transactional else 0) | (0x20 if control else 0)
    return build_batch(
        decoded,
        base_offset=base_offset,
        attributes=attributes,
        partition_leader_epoch=partition_leader_epoch,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        base_timestamp=decoded[0].timestamp if decoded else timestamp,
        max_timestamp=max((r.timestamp for r in decoded), default=timestamp),
    )
