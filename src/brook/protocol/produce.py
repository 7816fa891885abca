"""Produce request decoder and response encoder for the hot path (v0-9), written by hand.

kio decodes a Produce request into frozen dataclasses and copies each partition's records into new
bytes; here the records stay memoryviews into the request's own (writable) frame, so the broker
stamps offsets into them and writes them to the log without a copy. The response is a few fixed
fields per partition, packed directly. tests/unit/protocol/test_produce_codec.py checks both against
kio for every version, field for field and byte for byte.

Request layout (v3-8; v9 uses compact strings/arrays/bytes and tagged-field sections; v0-2 lack
transactional_id and carry message sets of magic 0/1, records/message_sets.py):
    v3+ transactional_id nullable string, acks int16, timeout_ms int32,
    [topic string, [partition int32, records nullable bytes]]
Response layout:
    [topic string, [partition int32, error_code int16, base_offset int64, v2+ log_append_time_ms int64,
                    v5+ log_start_offset int64,
                    v8+ record_errors [batch_index int32, batch_index_error_message nullable string],
                    v8+ error_message]],
    v1+ throttle_time_ms int32
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from brook.protocol.bounds import MAX_ELEMENTS
from brook.protocol.varint import encode_uvarint, read_uvarint

__all__ = [
    "ProducePartition",
    "ProducePartitionResult",
    "ProduceRequest",
    "ProduceTopic",
    "decode_produce_request",
    "encode_produce_response",
]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_ACKS_TIMEOUT = struct.Struct(">hi")
_PARTITION_HEAD = struct.Struct(">ihqq")  # index, error_code, base_offset, log_append_time_ms
_PARTITION_HEAD_V0 = struct.Struct(">ihq")  # index, error_code, base_offset (v0-1)
_I64 = struct.Struct(">q")


class ProduceDecodeError(ValueError):
    """The request's bytes do not match its declared layout (the connection turns this into a close)."""


@dataclass(slots=True)
class ProducePartition:
    index: int
    records: memoryview | None  # a writable view into the request frame


@dataclass(slots=True)
class ProduceTopic:
    name: str
    partition_data: list[ProducePartition]


@dataclass(slots=True)
class ProduceRequest:
    transactional_id: str | None
    acks: int
    timeout_ms: int
    topic_data: list[ProduceTopic]


class _Reader:
    """A cursor over the frame; every read checks that the bytes are there."""

    def __init__(self, frame: bytearray | memoryview, pos: int, max_elements: int) -> None:
        self.frame = frame
        self.pos = pos
        self.elements_left = max_elements

    def need(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > len(self.frame):
            raise ProduceDecodeError(f"field of {n} bytes at {start} runs past the frame")
        self.pos = start + n
        return start

    def int32(self) -> int:
        value: int = _I32.unpack_from(self.frame, self.need(4))[0]
        return value

    def int16(self) -> int:
        value: int = _I16.unpack_from(self.frame, self.need(2))[0]
        return value

    def uvarint(self) -> int:
        pos, frame = self.pos, self.frame
        # one byte: every count, length and tag section in practice
        if pos < len(frame) and frame[pos] < 0x80:
            self.pos = pos + 1
            return frame[pos]
        try:
            value, self.pos = read_uvarint(frame, pos)
        except ValueError as exc:
            raise ProduceDecodeError(str(exc)) from exc
        return value

    def string(self, length: int) -> str | None:
        if length < 0:
            return None
        start = self.need(length)
        return bytes(self.frame[start : start + length]).decode()

    def count(self, n: int) -> int:
        """An array length: a null array (-1) holds nothing, as in kio's reader; at most one element per
        remaining byte (Kafka's rule), so a lying count fails here, not after a long loop."""
        if n > len(self.frame) - self.pos:
            raise ProduceDecodeError(
                f"array of {n} elements, but only {len(self.frame) - self.pos} bytes remain"
            )
        self.elements_left -= max(n, 0)
        if self.elements_left < 0:
            raise ProduceDecodeError("more topics and partitions in one request than the limit")
        return max(n, 0)

    def skip_tagged_fields(self) -> None:
        pos, frame = self.pos, self.frame
        if pos < len(frame) and frame[pos] == 0:  # none: the usual case
            self.pos = pos + 1
            return
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.need(self.uvarint())


def decode_produce_request(
    frame: bytearray | memoryview, pos: int, version: int, max_elements: int = MAX_ELEMENTS
) -> ProduceRequest:
    """Decode the body starting at `pos` (after the request header). Raises ProduceDecodeError.
    Topics and partitions together count against `max_elements`, as in protocol/bounds.py."""
    r = _Reader(frame, pos, max_elements)
    if version >= 9:
        return _decode_flexible(r)
    transactional_id = r.string(r.int16()) if version >= 3 else None
    start = r.need(_ACKS_TIMEOUT.size)
    acks, timeout_ms = _ACKS_TIMEOUT.unpack_from(frame, start)
    topics = []
    for _ in range(r.count(r.int32())):
        name = r.string(r.int16())
        if name is None:
            raise ProduceDecodeError("null topic name")
        partitions = []
        for _ in range(r.count(r.int32())):
            index = r.int32()
            size = r.int32()
            records = None if size < 0 else memoryview(frame)[r.need(size) : r.pos]
            partitions.append(ProducePartition(index, records))
        topics.append(ProduceTopic(name, partitions))
    return ProduceRequest(transactional_id, acks, timeout_ms, topics)


def _decode_flexible(r: _Reader) -> ProduceRequest:
    frame = r.frame
    view = memoryview(frame)
    transactional_id = r.string(r.uvarint() - 1)
    start = r.need(_ACKS_TIMEOUT.size)
    acks, timeout_ms = _ACKS_TIMEOUT.unpack_from(frame, start)
    topics = []
    for _ in range(r.count(r.uvarint() - 1)):
        name = r.string(r.uvarint() - 1)
        if name is None:
            raise ProduceDecodeError("null topic name")
        partitions = []
        for _ in range(r.count(r.uvarint() - 1)):
            index = r.int32()
            size = r.uvarint() - 1
            if size < 0:
                records = None
            else:
                records_start = r.need(size)
                records = view[records_start : records_start + size]
            r.skip_tagged_fields()
            partitions.append(ProducePartition(index, records))
        r.skip_tagged_fields()
        topics.append(ProduceTopic(name, partitions))
    r.skip_tagged_fields()
    return ProduceRequest(transactional_id, acks, timeout_ms, topics)


# --- response ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ProducePartitionResult:
    index: int
    error_code: int = 0
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    record_errors: tuple[tuple[int, str | None], ...] = ()  # (batch_index, message): Kafka's RecordError


def _string(value: str | None, flexible: bool) -> bytes:
    if value is None:
        return b"\x00" if flexible else b"\xff\xff"
    encoded = value.encode()
    return (encode_uvarint(len(encoded) + 1) if flexible else _I16.pack(len(encoded))) + encoded


def _record_errors(errors: Sequence[tuple[int, str | None]], flexible: bool) -> bytes:
    out = bytearray(encode_uvarint(len(errors) + 1) if flexible else _I32.pack(len(errors)))
    for batch_index, message in errors:
        out += _I32.pack(batch_index) + _string(message, flexible)
        if flexible:
            out += b"\x00"  # record error tagged fields
    return bytes(out)


# v9 (flexible) for one partition answered without errors, the common Produce response:
# [1 topic] name, [1 partition] index error_code base_offset log_append_time_ms log_start_offset,
# record_errors [] (compact: 1), error_message null (0), tagged fields (0); topic tagged fields (0),
# throttle_time_ms, response tagged fields (0)
_ONE_OK_PARTITION_V9 = struct.Struct(">bihqqqbbbbib")


def encode_produce_response(
    version: int, topics: Sequence[tuple[str, Sequence[ProducePartitionResult]]], throttle_time_ms: int = 0
) -> bytes:
    if version == 9 and len(topics) == 1:
        name, partitions = topics[0]
        if len(partitions) == 1:
            p = partitions[0]
            if not p.record_errors and p.error_message is None:
                encoded = name.encode()
                if len(encoded) < 0x7F:
                    return (
                        bytes((2, len(encoded) + 1))
                        + encoded
                        + _ONE_OK_PARTITION_V9.pack(
                            2,
                            p.index,
                            p.error_code,
                            p.base_offset,
                            p.log_append_time_ms,
                            p.log_start_offset,
                            1,
                            0,
                            0,
                            0,
                            throttle_time_ms,
                            0,
                        )
                    )
    flexible = version >= 9
    out = bytearray(encode_uvarint(len(topics) + 1) if flexible else _I32.pack(len(topics)))
    for name, partitions in topics:
        out += _string(name, flexible)
        out += encode_uvarint(len(partitions) + 1) if flexible else _I32.pack(len(partitions))
        for p in partitions:
            if version >= 2:
                out += _PARTITION_HEAD.pack(p.index, p.error_code, p.base_offset, p.log_append_time_ms)
            else:
                out += _PARTITION_HEAD_V0.pack(p.index, p.error_code, p.base_offset)
            if version >= 5:
                out += _I64.pack(p.log_start_offset)
            if version >= 8:
                out += _record_errors(p.record_errors, flexible)
                out += _string(p.error_message, flexible)
            if flexible:
                out += b"\x00"  # partition tagged fields
        if flexible:
            out += b"\x00"  # topic tagged fields
    if version >= 1:
        out += _I32.pack(throttle_time_ms)
    if flexible:
        out += b"\x00"  # response tagged fields
    return bytes(out)
