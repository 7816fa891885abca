"""Bounded streaming decompression of a batch's records section: chunks of at most CHUNK_BYTES, never the
whole inflated payload at once, and at most `max_bytes` in total (a decompression bomb stops there).

Each codec as Kafka's producers frame it: gzip streams (possibly several members), LZ4 frames, zstd frames,
and snappy either raw or in xerial framing (`\\x82SNAPPY\\x00`, two int32 versions, then blocks of int32
length + raw snappy data). Raw snappy stores its inflated length up front: that length is checked against
the budget before anything is inflated, so a snappy block costs at most its declared (and bounded) size.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import cramjam
import lz4.frame
import zstandard

from brook.common.errors import CorruptMessage, MessageTooLarge, UnsupportedCompressionType
from brook.records.batch import Compression

__all__ = ["CHUNK_BYTES", "ZSTD_MAX_WINDOW_BYTES", "inflate_chunks"]

CHUNK_BYTES = 64 * 1024
# zstd frames name their window size; a decoder allocates it. 16 MiB covers every level clients use on
# batches of a few MiB (zstd shrinks the window to the input); a bigger claim is refused, not allocated.
ZSTD_MAX_WINDOW_BYTES = 16 * 1024 * 1024
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER_BYTES = 16
_INT32 = struct.Struct(">i")


def inflate_chunks(codec: int, data: bytes | memoryview, max_bytes: int) -> Iterator[bytes]:
    """Yield the inflated records section in chunks; raise MessageTooLarge once more than `max_bytes`
    came out, CorruptMessage for a stream the codec cannot read (or one that ends early)."""
    total = 0
    for chunk in _chunks(codec, data, max_bytes):
        total += len(chunk)
        if total > max_bytes:
            raise MessageTooLarge(f"compressed batch inflates past {max_bytes} bytes")
        yield chunk


def _chunks(codec: int, data: bytes | memoryview, max_bytes: int) -> Iterator[bytes]:
    try:
        if codec == Compression.gzip:
            yield from _gzip(bytes(data))
        elif codec == Compression.snappy:
            yield from _snappy(bytes(data), max_bytes)
        elif codec == Compression.lz4:
            yield from _lz4(bytes(data))
        elif codec == Compression.zstd:
            yield from _zstd(bytes(data))
        else:
            raise UnsupportedCompressionType(f"unknown codec {codec}")
    except (zlib.error, RuntimeError, zstandard.ZstdError, cramjam.DecompressionError) as exc:
        raise CorruptMessage(f"cannot decompress records: {exc}") from exc


def _gzip(data: bytes) -> Iterator[bytes]:
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending = data
        while not inflater.eof:
            chunk = inflater.decompress(pending, CHUNK_BYTES)
            pending = inflater.unconsumed_tail
            if chunk:
                yield chunk
            elif not pending:
                raise CorruptMessage("gzip stream ends early")
        data = inflater.unused_data  # a further gzip member, as GZIPInputStream reads them


def _lz4(data: bytes) -> Iterator[bytes]:
    inflater = lz4.frame.LZ4FrameDecompressor()
    pending = data
    while not inflater.eof:
        chunk = inflater.decompress(pending, max_length=CHUNK_BYTES)
        pending = b""
        if chunk:
            yield chunk
        elif inflater.needs_input:
            raise CorruptMessage("lz4 frame ends early")


def _zstd(data: bytes) -> Iterator[bytes]:
    # A decompressor owns a zstd context and its window buffer (2 MiB for the Java client's frames, which name no
    # content size): allocating them per batch cost more than inflating a 16 KiB batch. Idle ones are kept for
    # the next batch; the loop and the validation thread each take their own (list.pop and append are atomic),
    # and a generator left unfinished just never gives its decompressor back.
    try:
        inflater = _idle_zstd.pop()
    except IndexError:
        inflater = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW_BYTES)
    with inflater.stream_reader(data, read_across_frames=True) as reader:
        while chunk := reader.read(CHUNK_BYTES):
            yield chunk
    if len(_idle_zstd) < _IDLE_ZSTD_KEPT:
        _idle_zstd.append(inflater)


# zstd contexts kept between batches: one for the event loop, one for the validation thread. zstd itself frees
# a context's buffers once they have been far bigger than its frames need for a while (a 16 MiB window claimed
# once is not kept for good).
_IDLE_ZSTD_KEPT = 2
_idle_zstd: list[zstandard.ZstdDecompressor] = []


def _snappy(data: bytes, max_bytes: int) -> Iterator[bytes]:
    if not data.startswith(_XERIAL_MAGIC):
        yield _snappy_block(data, max_bytes)  # librdkafka sends unframed snappy
        return
    pos = _XERIAL_HEADER_BYTES
    budget = max_bytes
    while pos < len(data):
        if pos + 4 > len(data):
            raise CorruptMessage("truncated xerial snappy block length")
        (length,) = _INT32.unpack_from(data, pos)
        pos += 4
        if length < 0 or pos + length > len(data):
            raise CorruptMessage("xerial snappy block runs past the batch")
        block = _snappy_block(data[pos : pos + length], budget)
        budget -= len(block)
        pos += length
        yield block


def _snappy_block(block: bytes, budget: int) -> bytes:
    if cramjam.snappy.decompress_raw_len(block) > budget:
        raise MessageTooLarge(f"compressed batch inflates past its bound ({budget} bytes left)")
    return bytes(cramjam.snappy.decompress_raw(block))
