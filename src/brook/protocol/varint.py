"""Unsigned varints (Kafka's compact lengths and tagged-field headers), for the hand-written codecs."""

from __future__ import annotations

__all__ = ["encode_uvarint", "read_uvarint"]

_MAX_SHIFT = 28  # five bytes: Kafka's unsigned varints are 32-bit


def encode_uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_uvarint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    """(value, position after it); ValueError when the bytes end early or run longer than five."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError(f"unsigned varint runs past the buffer at {pos}")
        if shift > _MAX_SHIFT:
            raise ValueError("unsigned varint longer than 5 bytes")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
