"""Message formats v0 and v1 ("message sets", magic 0 and 1): converted to v2 batches on produce and
back on fetch, as Kafka 3.x does for clients that speak Produce v0-2 / Fetch v0-3. The log holds v2 only.

One message (Kafka's LegacyRecord), big-endian:

    offset        int64   absolute; of a compressed wrapper: the offset of its last inner message
    message_size  int32   bytes after this field
    crc           uint32  CRC-32 (zlib's, not CRC-32C) of every byte from magic to the end of value
    magic         int8    0 or 1
    attributes    int8    bits 0-2: codec (0 none, 1 gzip, 2 snappy, 3 lz4); bit 3 (magic 1): LogAppendTime
    timestamp     int64   magic 1 only; -1 for none
    key           int32 length (-1: null) + bytes
    value         int32 length (-1: null) + bytes

A compressed message is a wrapper whose value is the compressed message set of its inner messages
(uncompressed, same magic). Inner offsets are absolute in magic 0 and relative (0, 1, ...) in magic 1;
a magic 1 wrapper carries the largest inner timestamp, or the log append time. A message set may end in
a partial message (a fetch cut at max_bytes); readers stop there.

Up-conversion (Kafka's LogValidator): every message's CRC checked, inner messages unpacked, all of them
become one v2 batch with offsets 0..n-1 (the log assigns the real ones), magic 1 timestamps kept, magic 0
ones -1, compressed with the first wrapper's codec. Down-conversion (Kafka's RecordsUtil.downConvert):
control batches dropped, each v2 batch becomes one wrapper (compressed batches, same codec) or one
message per record (uncompressed, records before `first_offset` dropped); headers are lost; zstd cannot
be expressed (UNSUPPORTED_COMPRESSION_TYPE); the answer is kept to the size read from the log. Magic 0
LZ4 frames carry Kafka 0.8's broken header checksum (records/lz4_header.py). Both directions go record
by record: nothing but encoded bytes and one wrapper's inflated set is held.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from brook.common.errors import CorruptMessage, InvalidRecord, MessageTooLarge, UnsupportedCompressionType
from brook.records.batch import BatchHeader, Compression, TimestampType, iter_batches
from brook.records.inflate import inflate_chunks
from brook.records.lz4_header import with_broken_checksum, with_proper_checksum
from brook.records.records import Record, build_batch_streaming, compress, iter_records

__all__ = [
    "LegacyMessage",
    "down_convert",
    "encode_message",
    "is_legacy",
    "iter_messages",
    "to_v2_batch",
]

_ENTRY = struct.Struct(">qi")  # offset, message_size
_CRC = struct.Struct(">I")
_V0_HEAD = struct.Struct(">bb")  # magic, attributes
_V1_HEAD = struct.Struct(">bbq")  # magic, attributes, timestamp
_I32 = struct.Struct(">i")
LOG_OVERHEAD = _ENTRY.size
_MIN_MESSAGE = {0: 4 + _V0_HEAD.size + 8, 1: 4 + _V1_HEAD.size + 8}  # crc, head, two null lengths
_TIMESTAMP_TYPE_BIT = 0x08
_MAGIC_POS = LOG_OVERHEAD + 4  # the magic byte of a v0/v1 message, and of a v2 batch (offset 16)


@dataclass(frozen=True, slots=True)
class LegacyMessage:
    """One message as read: for inner messages of a wrapper, `codec` is the wrapper's."""

    offset: int
    magic: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    codec: int = 0
    log_append_time: bool = False


def is_legacy(data: bytes | bytearray | memoryview) -> bool:
    """True when `data` starts with a magic 0 or 1 message (the byte that is a v2 batch's magic)."""
    return len(data) > _MAGIC_POS and data[_MAGIC_POS] in (0, 1)


def encode_message(
    offset: int,
    magic: int,
    key: bytes | None,
    value: bytes | None,
    *,
    timestamp: int = -1,
    codec: int = 0,
    log_append_time: bool = False,
) -> bytes:
    """One message with its offset and size prefix and a valid CRC."""
    attributes = codec | (_TIMESTAMP_TYPE_BIT if log_append_time and magic == 1 else 0)
    head = _V1_HEAD.pack(1, attributes, timestamp) if magic == 1 else _V0_HEAD.pack(0, attributes)
    body = head + _length_prefixed(key) + _length_prefixed(value)
    return _ENTRY.pack(offset, 4 + len(body)) + _CRC.pack(zlib.crc32(body)) + body


def _length_prefixed(data: bytes | None) -> bytes:
    return _I32.pack(-1) if data is None else _I32.pack(len(data)) + data


def iter_messages(
    data: bytes | bytearray | memoryview, max_inflated_bytes: int, max_message_bytes: int | None = None
) -> Iterator[LegacyMessage]:
    """Every message of a message set, one at a time, wrappers unpacked (inner messages with absolute
    offsets); stops at a trailing partial message. CorruptMessage for a bad CRC or layout, InvalidRecord
    for a magic or nesting Kafka refuses, UnsupportedCompressionType for a codec magic 0/1 cannot hold.
    Holds at most one wrapper's inflated message set (at most `max_inflated_bytes`) at a time. A message
    (a wrapper, as sent) bigger than `max_message_bytes` is MessageTooLarge before anything is inflated,
    as Kafka checks max.message.bytes against each message of an old-format set."""
    view = memoryview(data)
    for offset, message in _shallow(view):
        if max_message_bytes is not None and LOG_OVERHEAD + len(message) > max_message_bytes:
            raise MessageTooLarge(
                f"message of {LOG_OVERHEAD + len(message)} bytes exceeds {max_message_bytes}"
            )
        wrapper = _parse(offset, message)
        if wrapper.codec == Compression.none:
            yield wrapper
            continue
        if wrapper.value is None:
            raise InvalidRecord("compressed message with a null value")
        value = wrapper.value
        if wrapper.magic == 0 and wrapper.codec == Compression.lz4:
            value = with_proper_checksum(value)  # magic 0's broken LZ4 header checksum (lz4_header.py)
        inner_set = memoryview(b"".join(inflate_chunks(wrapper.codec, value, max_inflated_bytes)))
        last_inner_offset = None
        for inner_offset, _ in _shallow(inner_set):  # offsets only: magic 1 counts back from the last
            last_inner_offset = inner_offset
        if last_inner_offset is None:
            raise InvalidRecord("compressed message holds no messages")
        # magic 1: inner offsets relative, the wrapper's is the last one's; magic 0: absolute already
        shift = offset - last_inner_offset if wrapper.magic == 1 else 0
        for inner_offset, inner_message in _shallow(inner_set):
            m = _parse(inner_offset, inner_message)
            if m.magic != wrapper.magic:
                raise InvalidRecord("Log record magic does not match outer magic")
            if m.codec != Compression.none:
                raise InvalidRecord("compressed message inside a compressed message")
            yield LegacyMessage(
                m.offset + shift,
                m.magic,
                wrapper.timestamp if wrapper.log_append_time else m.timestamp,
                m.key,
                m.value,
                wrapper.codec,
                wrapper.log_append_time,
            )


def _shallow(view: memoryview) -> Iterator[tuple[int, memoryview]]:
    pos = 0
    while pos + LOG_OVERHEAD <= len(view):
        offset, size = _ENTRY.unpack_from(view, pos)
        if pos + LOG_OVERHEAD + size > len(view):
            return  # a partial message at the end: a cut, not an error
        if size < _MIN_MESSAGE[0]:
            raise CorruptMessage(f"message size {size} is below the minimum")
        yield offset, view[pos + LOG_OVERHEAD : pos + LOG_OVERHEAD + size]
        pos += LOG_OVERHEAD + size


def _parse(offset: int, message: memoryview) -> LegacyMessage:
    (crc,) = _CRC.unpack_from(message, 0)
    magic = message[4]
    if magic not in (0, 1):
        raise InvalidRecord(f"message with magic {magic} in a v0/v1 message set")
    if len(message) < _MIN_MESSAGE[magic]:
        raise CorruptMessage("message shorter than its header")
    if zlib.crc32(message[4:]) != crc:
        raise CorruptMessage("message CRC does not match its contents")
    if magic == 1:
        _, attributes, timestamp = _V1_HEAD.unpack_from(message, 4)
        pos = 4 + _V1_HEAD.size
    else:
        _, attributes = _V0_HEAD.unpack_from(message, 4)
        timestamp, pos = -1, 4 + _V0_HEAD.size
    codec = attributes & 0x07
    if codec > Compression.lz4:
        raise UnsupportedCompressionType(f"codec {codec} in a magic {magic} message")
    key, pos = _read_bytes(message, pos)
    value, pos = _read_bytes(message, pos)
    if pos != len(message):
        raise CorruptMessage("message size does not match its key and value")
    return LegacyMessage(
        offset, magic, timestamp, key, value, codec, bool(magic and attributes & _TIMESTAMP_TYPE_BIT)
    )


def _read_bytes(message: memoryview, pos: int) -> tuple[bytes | None, int]:
    (length,) = _I32.unpack_from(message, pos)
    pos += 4
    if length < 0:
        return None, pos
    if pos + length > len(message):
        raise CorruptMessage("key or value runs past its message")
    return bytes(message[pos : pos + length]), pos + length


def to_v2_batch(
    data: bytes | bytearray | memoryview, max_inflated_bytes: int, max_message_bytes: int | None = None
) -> bytearray:
    """A produced message set as one v2 batch (offsets from 0, producer id -1), ready for validation and
    append like any batch a v3+ producer sends, built record by record (memory: the encoded batch and one
    wrapper's inflated set). Empty (no whole message) gives an empty bytearray."""
    messages = iter_messages(data, max_inflated_bytes, max_message_bytes)
    first = next(messages, None)
    if first is None:
        return bytearray()
    records = (
        Record(i, m.timestamp if m.magic == 1 else -1, m.key, m.value)
        for i, m in enumerate(itertools.chain((first,), messages))
    )
    return build_batch_streaming(records, attributes=first.codec)


def down_convert(
    data: bytes | bytearray | memoryview, magic: int, first_offset: int, max_bytes: int | None = None
) -> bytes:
    """Whole v2 batches (a fetch's bytes) as a magic 0 or 1 message set; a partial batch at the end is
    dropped. At most `max_bytes` (default: the size of `data`, as Kafka's LazyDownConversionRecords keeps
    the answer to the size it read) but always the first message: magic 0/1 take more bytes per record
    than v2, and the consumer fetches the rest from where this answer ends. A zstd batch ends the
    answer; UnsupportedCompressionType if it comes first (Kafka sends what precedes it, then refuses)."""
    limit = len(data) if max_bytes is None else max_bytes
    view = memoryview(data)
    out = bytearray()
    for pos, header in iter_batches(view):
        if header.magic < 2:
            pieces: Iterator[bytes] = iter([bytes(view[pos : pos + header.size])])  # never written by brook
        elif header.is_control:
            continue
        elif header.compression == Compression.zstd:
            if out:
                break
            raise UnsupportedCompressionType(
                "Down-conversion of zstandard-compressed batches is not supported"
            )
        else:
            pieces = _convert_batch(view[pos : pos + header.size], header, magic, first_offset)
        for piece in pieces:
            if out and len(out) + len(piece) > limit:
                return bytes(out)
            out += piece
    return bytes(out)


def _convert_batch(batch: memoryview, header: BatchHeader, magic: int, first_offset: int) -> Iterator[bytes]:
    """One v2 batch as messages, record by record: one per record from `first_offset` on (uncompressed),
    or one wrapper holding them all (compressed; its inner set is the only thing built whole)."""
    log_append_time = magic == 1 and header.timestamp_type == TimestampType.log_append_time
    records = iter_records(batch, header)
    if header.compression == Compression.none:
        for r in records:
            if r.offset >= first_offset:
                yield encode_message(
                    r.offset,
                    magic,
                    r.key,
                    r.value,
                    timestamp=_timestamp(r.timestamp, magic),
                    log_append_time=log_append_time,
                )
        return
    first = next(records, None)
    if first is None:
        return
    inner = bytearray()
    last_offset = first.offset
    for r in itertools.chain((first,), records):
        inner += encode_message(
            r.offset - first.offset if magic == 1 else r.offset,
            magic,
            r.key,
            r.value,
            timestamp=_timestamp(r.timestamp, magic),
            log_append_time=log_append_time,
        )
        last_offset = r.offset
    compressed = compress(header.compression, bytes(inner))
    del inner
    if magic == 0 and header.compression == Compression.lz4:
        compressed = with_broken_checksum(compressed)  # what magic 0 readers expect (lz4_header.py)
    yield encode_message(
        last_offset,
        magic,
        None,
        compressed,
        timestamp=header.max_timestamp if magic == 1 else -1,
        codec=header.compression,
        log_append_time=log_append_time,
    )


def _timestamp(timestamp: int, magic: int) -> int:
    return timestamp if magic == 1 else -1
