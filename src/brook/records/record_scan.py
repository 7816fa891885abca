"""Scanning a v2 batch's records section without building Record objects: what validator.py runs.

DefaultRecord's layout (records.py documents it) walked one varint at a time: whole records in one buffer
with the one- and two-byte varints read inline (the hot path; well-formed records go through
_fastscan.c first when it is built), and inflated records as a
bounded stream of chunks (a record past `_MAX_PENDING_BYTES` walked field by field, its bytes skipped).
Each record's rules that depend on the topic (timestamps, keys) are `RecordChecks.record`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from brook.common.errors import InvalidRecord
from brook.records.batch import BatchHeader

_scan_plain: Callable[[bytes | bytearray, int, int, int], tuple[int, int]] | None
try:  # C (_fastscan.c): accepts well-formed records, stops at the first it does not; Python does the rest
    from brook.records._fastscan import scan_plain as _scan_plain
except ImportError:  # not built (no C compiler where brook was installed): the Python scan alone
    _scan_plain = None
# how much a scan costs: produce_validation.py sizes its inline bounds by it
FAST_SCAN = _scan_plain is not None

__all__ = ["FAST_SCAN", "LONG_MAX", "RecordChecks", "ValidationPolicy", "scan_contiguous", "scan_inflated"]

LONG_MAX = 2**63 - 1
_NO_TIMESTAMP = -1
_MAX_PENDING_BYTES = 4 * 1024 * 1024  # an inflated record up to this size is scanned whole


@dataclass(frozen=True, slots=True)
class ValidationPolicy:
    """The topic's settings the rules depend on (Kafka's names: message.timestamp.*, cleanup.policy)."""

    log_append_time: bool = False  # message.timestamp.type=LogAppendTime
    timestamp_before_max_ms: int = LONG_MAX
    timestamp_after_max_ms: int = LONG_MAX
    require_keys: bool = False  # compacted topics
    max_uncompressed_bytes: int = 64 * 1024 * 1024


@dataclass(slots=True)
class RecordChecks:
    """What a records scan checks against, and the record errors it collects."""

    header: BatchHeader
    policy: ValidationPolicy
    now_ms: int
    check_timestamps: bool
    errors: list[tuple[int, str | None, bool]]  # (batch_index, message, is_timestamp_error)
    checks_records: bool = False  # timestamps or keys to check on every record

    def record(self, index: int, timestamp_delta: int, offset_delta: int, key_length: int) -> None:
        if offset_delta != index:
            raise InvalidRecord(
                f"record {index} has offset delta {offset_delta}; the deltas must be 0, 1, 2, ..."
            )
        if self.policy.require_keys and key_length < 0:
            self.errors.append((index, "Compacted topic cannot accept message without key", False))
        elif self.check_timestamps:
            header = self.header
            timestamp = (
                header.max_timestamp if header.timestamp_type else header.base_timestamp + timestamp_delta
            )
            self._check_timestamp(index, timestamp)

    def _check_timestamp(self, index: int, timestamp: int) -> None:
        policy = self.policy
        if not policy.log_append_time and timestamp != _NO_TIMESTAMP:
            difference = self.now_ms - timestamp
            if difference > policy.timestamp_before_max_ms or -difference > policy.timestamp_after_max_ms:
                low = self.now_ms - min(policy.timestamp_before_max_ms, self.now_ms)
                high = min(self.now_ms + policy.timestamp_after_max_ms, LONG_MAX)
                self.errors.append(
                    (
                        index,
                        f"Timestamp {timestamp} of message with offset {index} is out of range. "
                        f"The timestamp should be within [{low}, {high}]",
                        True,
                    )
                )
        elif self.header.timestamp_type:
            self.errors.append((index, "Producer should not set timestamp type to LogAppendTime.", True))


# -- whole records in one buffer: a tight scan, one-byte varints inline ------------------------------


def _varint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """A zigzag varint (up to 10 bytes) at `pos`; IndexError past the end is the caller's to map."""
    shift = 0
    n = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift > 63:
            raise InvalidRecord("varint is longer than 10 bytes")


def _scan_whole_records(data: bytes | bytearray, pos: int, index: int, scan: RecordChecks) -> tuple[int, int]:
    """DefaultRecord.readFrom for each record that lies whole in data[pos:]; returns (pos, index) of the
    first one that does not (or the end). Varints of one or two bytes are read inline.

    Without per-record checks, the C scan goes first over the records it accepts; this loop then starts
    where it stopped, so a record it did not accept gets this loop's verdict and message."""
    if _scan_plain is not None and not scan.checks_records:
        pos, index = _scan_plain(data, pos, index, scan.header.records_count)
    size = len(data)
    count = scan.header.records_count
    checks = scan.checks_records
    timestamp_delta = 0
    varint = _varint
    try:
        while index < count and pos < size:
            b = data[pos]
            if b < 0x80:
                length, p = (b >> 1) ^ -(b & 1), pos + 1
            elif pos + 1 < size and data[pos + 1] < 0x80:
                n = (b & 0x7F) | (data[pos + 1] << 7)
                length, p = (n >> 1) ^ -(n & 1), pos + 2
            else:
                try:
                    length, p = varint(data, pos)
                except IndexError:
                    break  # the length itself is cut: the rest is in the next chunk
            end = p + length
            if length <= 0:
                raise InvalidRecord(f"Invalid record size: expected {length} bytes in record {index}")
            if end > size:
                break
            p += 1  # attributes: unused in v2
            if checks:
                b = data[p]
                if b < 0x80:
                    timestamp_delta, p = (b >> 1) ^ -(b & 1), p + 1
                else:
                    timestamp_delta, p = varint(data, p)
            else:  # not needed: step over it
                while data[p] > 0x7F:
                    p += 1
                p += 1
            # offset delta: must be `index`, so compare its encoding (zigzag: index * 2) byte by byte
            expected = index << 1
            if expected < 0x80 and data[p] == expected:
                p += 1
            elif (
                0x80 <= expected < 0x4000
                and data[p] == (expected & 0x7F) | 0x80
                and data[p + 1] == expected >> 7
            ):
                p += 2
            else:
                offset_delta, p = varint(data, p)
                if offset_delta != index:
                    raise InvalidRecord(
                        f"record {index} has offset delta {offset_delta}; the deltas must be 0, 1, 2, ..."
                    )
            b = data[p]
            if b < 0x80:
                key_length, p = (b >> 1) ^ -(b & 1), p + 1
            elif data[p + 1] < 0x80:
                n = (b & 0x7F) | (data[p + 1] << 7)
                key_length, p = (n >> 1) ^ -(n & 1), p + 2
            else:
                key_length, p = varint(data, p)
            if key_length > 0:
                p += key_length
            b = data[p]
            if b < 0x80:
                value_length, p = (b >> 1) ^ -(b & 1), p + 1
            elif data[p + 1] < 0x80:
                n = (b & 0x7F) | (data[p + 1] << 7)
                value_length, p = (n >> 1) ^ -(n & 1), p + 2
            else:
                value_length, p = varint(data, p)
            if value_length > 0:
                p += value_length
            if p >= end:
                raise InvalidRecord(f"record {index}'s key and value run past its length")
            if data[p] == 0:  # no headers
                p += 1
            else:
                headers, p = varint(data, p)
                p = _skip_headers(data, p, end, headers, index)
            if p != end:
                raise InvalidRecord(f"Invalid record size: expected to read {length} bytes in record {index}")
            if checks:
                scan.record(index, timestamp_delta, index, key_length)
            pos = end
            index += 1
    except IndexError:
        raise InvalidRecord("Incorrect declared batch size, premature EOF reached") from None
    return pos, index


def _skip_headers(data: bytes | bytearray, p: int, end: int, headers: int, index: int) -> int:
    if headers < 0 or headers > end - p:
        raise InvalidRecord(f"Found invalid number of record headers {headers}")
    for _ in range(headers):
        header_key_length, p = _varint(data, p)
        if header_key_length < 0:
            raise InvalidRecord(f"Invalid negative header key size {header_key_length}")
        p += header_key_length
        header_value_length, p = _varint(data, p)
        if header_value_length > 0:
            p += header_value_length
        if p > end:
            raise InvalidRecord(f"record {index}'s headers run past its length")
    return p


def scan_contiguous(data: bytes, scan: RecordChecks) -> None:
    """An uncompressed records section: exactly records_count whole records, then nothing."""
    pos, index = _scan_whole_records(data, 0, 0, scan)
    if index < scan.header.records_count:
        raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
    if pos != len(data):
        raise InvalidRecord("Incorrect declared batch size, records still remaining in file")


def scan_inflated(chunks: Iterator[bytes], scan: RecordChecks) -> None:
    """A compressed records section, chunk by chunk: whole records are scanned as they complete; one
    record bigger than _MAX_PENDING_BYTES is walked field by field instead (its bytes skipped, not kept)."""
    pending = bytearray()
    index = 0
    for chunk in chunks:
        pending += chunk
        pos, index = _scan_whole_records(pending, 0, index, scan)
        del pending[:pos]
        if len(pending) > _MAX_PENDING_BYTES:
            reader = _ChunkReader(itertools.chain([bytes(pending)], chunks))
            _scan_stream(reader, scan, index)
            return
    if index < scan.header.records_count:
        raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
    if pending:
        raise InvalidRecord("Incorrect declared batch size, records still remaining in file")


# -- compressed: the same rules over a bounded stream of inflated chunks -----------------------------


class _ChunkReader:
    """Reads varints and skips bytes across chunks; keeps at most one chunk (plus a few bytes)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self.consumed = 0  # bytes read or skipped so far

    def _fill(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def at_end(self) -> bool:
        return self._pos >= len(self._buf) and not self._fill()

    def byte(self) -> int:
        if self._pos >= len(self._buf) and not self._fill():
            raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
        value = self._buf[self._pos]
        self._pos += 1
        self.consumed += 1
        return value

    def varint(self) -> int:
        buf, pos = self._buf, self._pos
        if pos < len(buf) and buf[pos] < 0x80:  # most varints are one byte
            self._pos += 1
            self.consumed += 1
            n = buf[pos]
            return (n >> 1) ^ -(n & 1)
        shift = 0
        n = 0
        while True:
            b = self.byte()
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return (n >> 1) ^ -(n & 1)
            shift += 7
            if shift > 63:
                raise InvalidRecord("varint is longer than 10 bytes")

    def skip(self, n: int) -> None:
        while n > 0:
            available = len(self._buf) - self._pos
            if available <= 0:
                if not self._fill():
                    raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
                continue
            step = min(n, available)
            self._pos += step
            self.consumed += step
            n -= step


def _scan_stream(reader: _ChunkReader, scan: RecordChecks, first_index: int) -> None:
    """DefaultRecord.readPartiallyFrom for each record: key, value and header bytes are skipped."""
    for index in range(first_index, scan.header.records_count):
        length = reader.varint()
        if length <= 0:
            raise InvalidRecord(f"Invalid record size: expected {length} bytes in record {index}")
        start = reader.consumed
        reader.byte()  # attributes
        timestamp_delta = reader.varint()
        offset_delta = reader.varint()
        key_length = reader.varint()
        if key_length > length:
            raise InvalidRecord(f"record {index}'s key runs past its length")
        reader.skip(key_length)
        value_length = reader.varint()
        if value_length > length:
            raise InvalidRecord(f"record {index}'s value runs past its length")
        reader.skip(value_length)
        headers = reader.varint()
        if headers < 0 or headers > length:
            raise InvalidRecord(f"Found invalid number of record headers {headers}")
        for _ in range(headers):
            header_key_length = reader.varint()
            if header_key_length < 0:
                raise InvalidRecord(f"Invalid negative header key size {header_key_length}")
            reader.skip(header_key_length)
            reader.skip(reader.varint())
            if reader.consumed - start > length:
                raise InvalidRecord(f"record {index}'s headers run past its length")
        if reader.consumed - start != length:
            raise InvalidRecord(f"Invalid record size: expected to read {length} bytes in record {index}")
        scan.record(index, timestamp_delta, offset_delta, key_length)
    if not reader.at_end():
        raise InvalidRecord("Incorrect declared batch size, records still remaining in file")
