"""Checks a message's every length and count against the bytes that remain, before anything decodes it.

The schema library (kio) reserves memory for an array's announced element count before it reads one
element: a 21-byte Metadata request announcing 2^32 topics makes it ask for 34 GB and abort the
process. So before kio sees a frame, `check_bounds` walks the same schema over the same bytes,
allocating nothing, and rejects the frame the moment a count or length cannot fit. Kafka's own
generated readers apply the same rule ("Tried to allocate a collection of size N, but there are only
M bytes remaining"): an array may announce at most as many elements as bytes remain, a string or
bytes field at most the bytes that remain. Once a frame passes, every array kio allocates holds at
most as many elements as the frame has bytes.

The walk follows kio's reading rules exactly, so the positions it checks are the positions kio reads:
fields in declaration order; a nullable nested struct starts with an int8 marker (-1: absent); legacy
(non-flexible) versions use int16-length strings, int32-length bytes and int32-count arrays, flexible
versions unsigned-varint lengths and counts stored plus one (0: null); a flexible struct ends with a
tagged-field section (count, then tag, size, value per field). A known tagged field's value must
fill exactly its declared size.

A string, bytes or array field the schema does not declare nullable may not be null (length or count -1,
or 0 stored in a varint): Kafka's readers refuse it ("non-nullable field ... was serialized as null"),
and kio would hand a handler None where its schema promises a value.

Layouts are plain tuples built by `codec.layout` (this module knows no kio):
    struct:  ("struct", flexible, nullable, fields, tagged)  fields: tuple of field layouts,
                                                              tagged: {tag: field layout}
    field:   ("fixed", n) | ("string", nullable) | ("bytes", nullable) | ("array", element, nullable)
             | struct
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

__all__ = ["MAX_ELEMENTS", "FrameBoundsError", "Walker", "check_bounds", "compile_walker"]

Walker: TypeAlias = Callable[[bytes | bytearray | memoryview, int, int, list[int]], int]
"""walk(buf, pos, end, budget) -> the position after the value; raises FrameBoundsError. `budget[0]`
is how many more array elements the message may hold (each array takes its count from it)."""

MAX_ELEMENTS = 200_000
"""Array elements one message may hold in all, by default. The schema library makes a Python object of
each (about 60 bytes, a microsecond of decoding), so a 100 MiB request of two-byte elements would
otherwise cost gigabytes and minutes of the event loop. Real requests hold far fewer: a request per
partition of every partition a broker leads. (brook's own limit: `brook.request.max.elements`.)"""

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_MAX_VARINT_BYTES = 5  # Kafka's unsigned varints carry 32 bits


class FrameBoundsError(ValueError):
    """A length or count in the frame cannot fit in the bytes that remain (or the frame is cut short)."""


def check_bounds(
    walker: Walker, buf: bytes | bytearray | memoryview, pos: int, max_elements: int = MAX_ELEMENTS
) -> int:
    """Walk one message from `pos`; return where it ends. Raises FrameBoundsError."""
    return walker(buf, pos, len(buf), [max_elements])


def _uvarint(buf: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise FrameBoundsError(f"unsigned varint runs past the end at byte {pos}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise FrameBoundsError(f"unsigned varint longer than {_MAX_VARINT_BYTES} bytes at byte {pos}")


def _fixed(n: int) -> Walker:
    def walk(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
        if pos + n > end:
            raise FrameBoundsError(f"{n}-byte field at byte {pos} runs past the end ({end})")
        return pos + n

    return walk


def _not_null(walker: Walker, kind: str, flexible: bool) -> Walker:
    """`walker` for a field that may not be null. Null is a varint 0 (one byte) in flexible versions,
    an int16 -1 (strings) or int32 -1 (bytes, arrays) in legacy ones."""
    size = 0 if flexible else 2 if kind == "string" else 4

    def walk(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
        if flexible:  # also a zero spread over several varint bytes (0x80 0x00)
            null = _uvarint(buf, pos, end)[0] == 0
        else:
            null = pos + size <= end and all(b == 0xFF for b in buf[pos : pos + size])
        if null:
            raise FrameBoundsError(f"non-nullable {kind} field at byte {pos} was serialized as null")
        return walker(buf, pos, end, budget)

    return walk


def _length_check(what: str, length: int, pos: int, end: int) -> int:
    if length < -1:
        raise FrameBoundsError(f"negative {what} length {length} at byte {pos}")
    if length > end - pos:
        raise FrameBoundsError(f"{what} of {length} bytes, but there are only {end - pos} bytes remaining")
    return pos + max(length, 0)


def _legacy_string(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
    if pos + 2 > end:
        raise FrameBoundsError(f"string length at byte {pos} runs past the end")
    return _length_check("string", _I16.unpack_from(buf, pos)[0], pos + 2, end)


def _legacy_bytes(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
    if pos + 4 > end:
        raise FrameBoundsError(f"bytes length at byte {pos} runs past the end")
    return _length_check("bytes", _I32.unpack_from(buf, pos)[0], pos + 4, end)


def _compact_string(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
    stored, pos = _uvarint(buf, pos, end)
    return _length_check("string", stored - 1, pos, end)


def _array_count(count: int, pos: int, end: int) -> int:
    if count < -1:
        raise FrameBoundsError(f"negative array length {count} at byte {pos}")
    if count > end - pos:
        raise FrameBoundsError(
            f"Tried to allocate a collection of size {count}, but there are only {end - pos} bytes remaining."
        )
    return count


def _array(element: Walker, flexible: bool) -> Walker:
    def walk(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
        if flexible:
            stored, pos = _uvarint(buf, pos, end)
            count = stored - 1
        else:
            if pos + 4 > end:
                raise FrameBoundsError(f"array length at byte {pos} runs past the end")
            count = _I32.unpack_from(buf, pos)[0]
            pos += 4
        count = _array_count(count, pos, end)
        budget[0] -= count
        if budget[0] < 0:
            raise FrameBoundsError(
                f"more array elements in one message than the limit ({count} more at byte {pos})"
            )
        for _ in range(count):
            pos = element(buf, pos, end, budget)
        return pos

    return walk


def _tagged_section(tagged: Mapping[int, Walker]) -> Walker:
    def walk(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
        count, pos = _uvarint(buf, pos, end)
        if count > end - pos:
            raise FrameBoundsError(f"{count} tagged fields, but there are only {end - pos} bytes remaining")
        for _ in range(count):
            tag, pos = _uvarint(buf, pos, end)
            size, pos = _uvarint(buf, pos, end)
            value_end = _length_check("tagged field", size, pos, end)
            value = tagged.get(tag)
            if value is not None and value(buf, pos, value_end, budget) != value_end:
                raise FrameBoundsError(f"tagged field {tag} does not fill its {size} bytes")
            pos = value_end
        return pos

    return walk


def compile_walker(layout: tuple[Any, ...], flexible: bool = False) -> Walker:
    """A walker for a field or struct layout (`flexible` is the enclosing struct's, for primitives)."""
    kind = layout[0]
    if kind == "fixed":
        return _fixed(layout[1])
    if kind == "struct":
        return _struct(layout)
    if kind == "string":
        walker: Walker = _compact_string if flexible else _legacy_string
    elif kind == "bytes":
        walker = _compact_string if flexible else _legacy_bytes
    elif kind == "array":
        walker = _array(compile_walker(layout[1], flexible), flexible)
    else:
        raise ValueError(f"unknown layout kind {kind!r}")
    nullable = layout[-1] if len(layout) > 1 and isinstance(layout[-1], bool) else True
    if nullable:
        return walker
    return _not_null(walker, kind, flexible)


def _struct(layout: tuple[Any, ...]) -> Walker:
    _, flexible, nullable, field_layouts, tagged_layouts = layout
    steps: list[Walker] = []
    fixed_run = 0
    for field in field_layouts:
        if field[0] == "fixed":
            fixed_run += field[1]  # consecutive fixed-size fields: one check
            continue
        if fixed_run:
            steps.append(_fixed(fixed_run))
            fixed_run = 0
        steps.append(compile_walker(field, flexible))
    if fixed_run:
        steps.append(_fixed(fixed_run))
    if flexible:
        steps.append(_tagged_section({tag: compile_walker(f, flexible) for tag, f in tagged_layouts.items()}))
    walkers = tuple(steps)

    def walk(buf: bytes | bytearray | memoryview, pos: int, end: int, budget: list[int]) -> int:
        if nullable:
            if pos >= end:
                raise FrameBoundsError(f"struct marker at byte {pos} runs past the end")
            if buf[pos] == 0xFF:  # int8 -1: absent
                return pos + 1
            pos += 1
        for step in walkers:
            pos = step(buf, pos, end, budget)
        return pos

    return walk
