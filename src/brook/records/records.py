"""The records inside a v2 batch: varint encoding, compression codecs, and rebuilding whole batches.

Only compaction, timestamp lookups and produce validation of compacted topics decode records; the
produce and fetch paths treat a batch as opaque bytes (see `brook.records.batch`).

Record layout (all lengths and deltas are zigzag varints, as in protobuf):

    length            varint   bytes after this field
    attributes        int8     unused, 0
    timestamp_delta   varlong  relative to the batch's base_timestamp
    offset_delta      varint   relative to the batch's base_offset
    key_length        varint   -1 means null
    key               bytes
    value_length      varint   -1 means null (a tombstone on compacted topics)
    value             bytes
    headers_count     varint
    headers           [key_length varint, key bytes, value_length varint, value bytes] * count

The records region (after the 61-byte header) is compressed as a whole when the batch's codec is not
none. Snappy uses the xerial framing Kafka clients send: an 16-byte header (magic, version, compatible
version) followed by blocks of int32 length + raw snappy data.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cramjam
import lz4.frame
from crc32c import crc32c

from brook.common.errors import CorruptMessage, UnsupportedCompressionType
from brook.records.batch import BATCH_HEADER_SIZE, LOG_OVERHEAD, BatchHeader, Compression, iter_batches

__all__ = [
    "Header",
    "Record",
    "build_batch",
    "build_batch_streaming",
    "compress",
    "decode_records",
    "decompress",
    "encode_records",
    "iter_records",
    "keys_are_present",
]

Header = tuple[str, bytes | None]

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK_BYTES = 32 * 1024
_INT32 = struct.Struct(">i")
_HEADER = struct.Struct(">qiibIhiqqqhii")
_CRC_START = 21


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record; `offset` and `timestamp` are absolute (base + delta)."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = field(default=())
    attributes: int = 0


# -- varints -------------------------------------------------------------------------------------


def _write_varint(out: bytearray, value: int) -> None:
    n = (value << 1) ^ (value >> 63)  # zigzag
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    shift = 0
    n = 0
    while True:
        if pos >= len(buf):
            raise CorruptMessage("varint runs past the end of the records")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise CorruptMessage("varint too long")
    return (n >> 1) ^ -(n & 1), pos


def _read_bytes(buf: bytes | memoryview, pos: int) -> tuple[bytes | None, int]:
    length, pos = _read_varint(buf, pos)
    if length < 0:
        return None, pos
    if pos + length > len(buf):
        raise CorruptMessage("record field runs past the end of the records")
    return bytes(buf[pos : pos + length]), pos + length


def _write_bytes(out: bytearray, data: bytes | None) -> None:
    if data is None:
        _write_varint(out, -1)
    else:
        _write_varint(out, len(data))
        out += data


# -- compression ---------------------------------------------------------------------------------


def compress(codec: int, data: bytes) -> bytes:
    if codec == Compression.none:
        return data
    if codec == Compression.gzip:
        return bytes(cramjam.gzip.compress(data))
    if codec == Compression.snappy:
        out = bytearray(_XERIAL_HEADER)
        for start in range(0, len(data), _XERIAL_BLOCK_BYTES):
            block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK_BYTES]))
            out += _INT32.pack(len(block)) + block
        return bytes(out)
    if codec == Compression.lz4:
        return _lz4_frame(data)
    if codec == Compression.zstd:
        return bytes(cramjam.zstd.compress(data))
    raise UnsupportedCompressionType(f"unknown codec {codec}")


def _lz4_frame(data: bytes) -> bytes:
    """An LZ4 frame as Kafka's Lz4BlockOutputStream writes it, the only kind its reader takes: FLG with
    independent blocks (a linked-block frame is "Dependent block stream is unsupported" to every Java consumer),
    no block or content checksum, no content size; BD with 64 KiB blocks."""
    return bytes(
        lz4.frame.compress(
            data,
            block_size=lz4.frame.BLOCKSIZE_MAX64KB,
            block_linked=False,
            content_checksum=False,
            block_checksum=False,
            store_size=False,
        )
    )


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    try:
        if codec == Compression.none:
            return bytes(data)
        if codec == Compression.gzip:
            return bytes(cramjam.gzip.decompress(bytes(data)))
        if codec == Compression.snappy:
            return _snappy_decompress(bytes(data))
        if codec == Compression.lz4:
            return bytes(cramjam.lz4.decompress(bytes(data)))
        if codec == Compression.zstd:
            return bytes(cramjam.zstd.decompress(bytes(data)))
    except cramjam.DecompressionError as exc:
        raise CorruptMessage(f"cannot decompress records: {exc}") from exc
    raise UnsupportedCompressionType(f"unknown codec {codec}")


def _snappy_decompress(data: bytes) -> bytes:
    if not data.startswith(_XERIAL_MAGIC):
        return bytes(cramjam.snappy.decompress_raw(data))  # some clients send unframed snappy
    out = bytearray()
    pos = len(_XERIAL_HEADER)
    while pos < len(data):
        if pos + 4 > len(data):
            raise CorruptMessage("truncated xerial snappy block length")
        (length,) = _INT32.unpack_from(data, pos)
        pos += 4
        out += bytes(cramjam.snappy.decompress_raw(data[pos : pos + length]))
        pos += length
    return bytes(out)


# -- records -------------------------------------------------------------------------------------


def iter_records(batch: bytes | bytearray | memoryview, header: BatchHeader) -> Iterator[Record]:
    """Decode the records of the batch whose header is `header` and whose bytes start at batch[0]."""
    view = memoryview(batch)[BATCH_HEADER_SIZE : header.size]
    data: bytes | memoryview = decompress(header.compression, view) if header.compression else view
    pos = 0
    log_append_time = header.timestamp_type == 1
    for _ in range(header.records_count):
        length, pos = _read_varint(data, pos)
        end = pos + length
        if length < 0 or end > len(data):
            raise CorruptMessage("record length runs past the end of the batch")
        attributes = data[pos]
        ts_delta, p = _read_varint(data, pos + 1)
        offset_delta, p = _read_varint(data, p)
        key, p = _read_bytes(data, p)
        value, p = _read_bytes(data, p)
        count, p = _read_varint(data, p)
        headers: list[Header] = []
        for _ in range(count):
            hkey, p = _read_bytes(data, p)
            hvalue, p = _read_bytes(data, p)
            headers.append(((hkey or b"").decode("utf-8", "replace"), hvalue))
        if p != end:
            raise CorruptMessage("record length does not match its fields")
        timestamp = header.max_timestamp if log_append_time else header.base_timestamp + ts_delta
        yield Record(header.base_offset + offset_delta, timestamp, key, value, tuple(headers), attributes)
        pos = end


def decode_records(batch: bytes | bytearray | memoryview, header: BatchHeader) -> list[Record]:
    return list(iter_records(batch, header))


def encode_records(records: Iterable[Record], *, base_offset: int, base_timestamp: int) -> bytes:
    """Encode records (uncompressed) relative to the given base offset and timestamp."""
    out = bytearray()
    body = bytearray()
    for r in records:
        body.clear()
        body.append(r.attributes)
        _write_varint(body, r.timestamp - base_timestamp)
        _write_varint(body, r.offset - base_offset)
        _write_bytes(body, r.key)
        _write_bytes(body, r.value)
        _write_varint(body, len(r.headers))
        for hkey, hvalue in r.headers:
            _write_bytes(body, hkey.encode())
            _write_bytes(body, hvalue)
        _write_varint(out, len(body))
        out += body
    return bytes(out)


def build_batch(
    records: list[Record],
    *,
    base_offset: int,
    attributes: int = 0,
    partition_leader_epoch: int = -1,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    last_offset_delta: int | None = None,
    base_timestamp: int | None = None,
    max_timestamp: int | None = None,
) -> bytearray:
    """A whole v2 batch with a valid CRC32C, compressed with the codec in `attributes`.

    Compaction passes the original `last_offset_delta` so the batch keeps covering its offsets even when
    its last records were removed (the producer's sequence numbers stay consistent, as in Kafka).
    """
    if base_timestamp is None:
        base_timestamp = records[0].timestamp if records else -1
    if max_timestamp is None:
        max_timestamp = max((r.timestamp for r in records), default=-1)
    if last_offset_delta is None:
        last_offset_delta = records[-1].offset - base_offset if records else 0
    payload = compress(
        attributes & 0x07, encode_records(records, base_offset=base_offset, base_timestamp=base_timestamp)
    )
    batch_length = BATCH_HEADER_SIZE - LOG_OVERHEAD + len(payload)
    buf = bytearray(BATCH_HEADER_SIZE)
    _HEADER.pack_into(
        buf, 0, base_offset, batch_length, partition_leader_epoch, 2, 0, attributes, last_offset_delta,
        base_timestamp, max_timestamp, producer_id, producer_epoch, base_sequence, len(records),
    )  # fmt: skip
    buf += payload
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[_CRC_START:]))
    return buf


def build_batch_streaming(records: Iterable[Record], *, attributes: int = 0) -> bytearray:
    """A v2 batch (base offset 0, no producer id) of records numbered 0, 1, 2, ... and given one at a time:
    only their encoded bytes are held, however many there are (up-conversion of old message sets).
    An empty iterable gives an empty bytearray."""
    it = iter(records)
    first = next(it, None)
    if first is None:
        return bytearray()
    seen = {"count": 0, "max_timestamp": -1}

    def counted() -> Iterator[Record]:
        for r in itertools.chain((first,), it):
            seen["count"] += 1
            seen["max_timestamp"] = max(seen["max_timestamp"], r.timestamp)
            yield r

    encoded = encode_records(counted(), base_offset=0, base_timestamp=first.timestamp)
    payload = compress(attributes & 0x07, encoded)
    del encoded
    count = seen["count"]
    buf = bytearray(BATCH_HEADER_SIZE)
    _HEADER.pack_into(
        buf, 0, 0, BATCH_HEADER_SIZE - LOG_OVERHEAD + len(payload), -1, 2, 0, attributes, count - 1,
        first.timestamp, seen["max_timestamp"], -1, -1, -1, count,
    )  # fmt: skip
    buf += payload
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[_CRC_START:]))
    return buf


def rebuild_batch(header: BatchHeader, records: list[Record], *, codec: int | None = None) -> bytearray:
    """`records` as a batch that keeps `header`'s offsets, producer metadata, epoch and timestamps
    (compaction drops records, conversion changes the codec; neither may change anything else)."""
    attributes = header.attributes if codec is None else (header.attributes & ~0x07) | codec
    return build_batch(
        records,
        base_offset=header.base_offset,
        attributes=attributes,
        partition_leader_epoch=header.partition_leader_epoch,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        last_offset_delta=header.last_offset_delta,
        base_timestamp=header.base_timestamp,
        # LogAppendTime batches carry the append time only in max_timestamp: keep it.
        max_timestamp=header.max_timestamp if header.timestamp_type == 1 else None,
    )


def keys_are_present(batch_bytes: bytes | bytearray | memoryview) -> bool:
    """True when every record of every batch has a non-null key (compacted topics require one)."""
    view = memoryview(batch_bytes)
    for pos, header in iter_batches(view):
        if header.is_control:
            continue
        if any(r.key is None for r in iter_records(view[pos : pos + header.size], header)):
            return False
    return True
