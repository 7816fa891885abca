"""The LZ4 frame header checksum of Kafka's magic 0 messages (KAFKA-3160).

Kafka 0.8-0.9 computed the frame descriptor's checksum byte (HC) over the 4-byte frame magic too, not
just the descriptor, and Kafka kept that for magic 0: its Lz4BlockInputStream ignores HC when reading
magic 0, and its Lz4BlockOutputStream writes the broken one when writing magic 0 (down-conversion for
Fetch v0-1). brook's LZ4 library checks HC, so magic 0 frames get the proper byte before inflating and
the broken one after deflating.

Frame header: magic 0x184D2204 (LE), FLG, BD, [content size int64 if FLG bit 3], [dict id int32 if FLG
bit 0], HC = (xxh32(descriptor, seed 0) >> 8) & 0xFF, where descriptor = FLG..dict id (broken: magic..).
"""

from __future__ import annotations

import struct

__all__ = ["with_broken_checksum", "with_proper_checksum", "xxh32"]

_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_MASK = 0xFFFFFFFF
_LZ4_MAGIC = b"\x04\x22\x4d\x18"


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 (the LZ4 frame format's checksum), for the few bytes of a frame descriptor."""
    n, i = len(data), 0
    if n >= 16:
        v = [(seed + _P1 + _P2) & _MASK, (seed + _P2) & _MASK, seed & _MASK, (seed - _P1) & _MASK]
        while i + 16 <= n:
            for lane in range(4):
                (word,) = struct.unpack_from("<I", data, i + 4 * lane)
                v[lane] = (_rotl((v[lane] + word * _P2) & _MASK, 13) * _P1) & _MASK
            i += 16
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _MASK
    else:
        h = (seed + _P5) & _MASK
    h = (h + n) & _MASK
    while i + 4 <= n:
        (word,) = struct.unpack_from("<I", data, i)
        h = (_rotl((h + word * _P3) & _MASK, 17) * _P4) & _MASK
        i += 4
    while i < n:
        h = (_rotl((h + data[i] * _P5) & _MASK, 11) * _P1) & _MASK
        i += 1
    h ^= h >> 15
    h = (h * _P2) & _MASK
    h ^= h >> 13
    h = (h * _P3) & _MASK
    return h ^ (h >> 16)


def _descriptor_end(frame: bytes) -> int | None:
    """Index of the HC byte, or None when `frame` does not start with an LZ4 frame header."""
    if len(frame) < 7 or frame[:4] != _LZ4_MAGIC:
        return None
    flg = frame[4]
    end = 6 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
    return end if end < len(frame) else None


def _with_checksum(frame: bytes, broken: bool) -> bytes:
    end = _descriptor_end(frame)
    if end is None:
        return frame  # not a frame we can fix: the inflater reports it
    hc = (xxh32(frame[0 if broken else 4 : end]) >> 8) & 0xFF
    return frame[:end] + bytes([hc]) + frame[end + 1 :]


def with_proper_checksum(frame: bytes) -> bytes:
    return _with_checksum(frame, broken=False)


def with_broken_checksum(frame: bytes) -> bytes:
    return _with_checksum(frame, broken=True)
