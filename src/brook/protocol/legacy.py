"""Old API versions kio has no classes for (it follows Kafka 4.x, which dropped them): layouts by hand.

Kafka 3.x still accepts them (docs/compatibility.md), and old clients send them: Debian's Sarama at
its default version, kafka-python with an old `api_version`, librdkafka with `api.version.request=false`.
Each layout (protocol/legacy_layouts.py) is the version's field list from Kafka 3.9's
`clients/src/main/resources/common/message/*.json`, in wire order, all non-flexible (classic encoding):

    int8/int16/int32/int64  big-endian signed        bool    one byte, 0 or 1
    string                  int16 length + UTF-8     nstring the same, length -1 for null
    [T]                     int32 count + elements   ?[T]    the same, count -1 for null

A decoded request is a namespace with the field names of the nearest version kio has (so one handler
serves every version), plus that version's defaults for fields the old layout lacks. A response is
encoded from the handler's version-independent dict of fields (the same dict `codec.build` takes).
Produce v0-2 and OffsetForLeaderEpoch v0-1 are decoded elsewhere (protocol/produce.py,
protocol/offset_for_leader_epoch.py); Fetch v0-3 responses by protocol/fetch_response.py.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from brook.protocol.bounds import MAX_ELEMENTS
from brook.protocol.legacy_layouts import REQUESTS, RESPONSES, Field

__all__ = [
    "REQUESTS",
    "RESPONSES",
    "LegacyDecodeError",
    "decode_request",
    "encode_response",
    "has_request",
    "has_response",
]

_STRUCTS = {
    "int8": struct.Struct(">b"),
    "int16": struct.Struct(">h"),
    "int32": struct.Struct(">i"),
    "int64": struct.Struct(">q"),
    "bool": struct.Struct(">?"),
}


class LegacyDecodeError(ValueError):
    """The request's bytes do not match its version's layout (the connection closes)."""


def has_request(api_key: int, version: int) -> bool:
    return (api_key, version) in REQUESTS


def has_response(api_key: int, version: int) -> bool:
    return (api_key, version) in RESPONSES


def decode_request(
    api_key: int,
    version: int,
    buf: bytes | bytearray | memoryview,
    pos: int = 0,
    max_elements: int = MAX_ELEMENTS,
) -> SimpleNamespace:
    """The request body at `pos` as a namespace; LegacyDecodeError if the bytes do not fit the layout.

    Every count is checked against the bytes left (one byte per element at least) and, summed, against
    `max_elements`, before anything is read: a lying count fails at once (as protocol/bounds.py does)."""
    fields, defaults = REQUESTS[(api_key, version)]
    reader = _Reader(bytes(buf), pos, max_elements)
    try:
        decoded = reader.struct(fields)
    except (struct.error, UnicodeDecodeError) as exc:
        raise LegacyDecodeError(f"api_key {api_key} v{version}: {exc}") from exc
    for name, value in defaults.items():
        setattr(decoded, name, value)
    return decoded


def encode_response(api_key: int, version: int, data: Mapping[str, Any]) -> bytes:
    """The response body for `data` (a handler's dict of fields; fields the version lacks are ignored,
    fields it omits take their defaults)."""
    out = bytearray()
    _write_struct(out, RESPONSES[(api_key, version)], data)
    return bytes(out)


class _Reader:
    def __init__(self, buf: bytes, pos: int, max_elements: int) -> None:
        self.buf = buf
        self.pos = pos
        self.elements_left = max_elements

    def struct(self, fields: tuple[Field, ...]) -> SimpleNamespace:
        return SimpleNamespace(**{name: self.value(kind) for name, kind in fields})

    def value(self, kind: Any) -> Any:
        if isinstance(kind, tuple):
            array_kind, element = kind
            count = self.primitive("int32")
            if count < 0:
                if array_kind == "narray":
                    return None
                raise LegacyDecodeError(f"null array at {self.pos} where the layout has none")
            if count > len(self.buf) - self.pos:
                raise LegacyDecodeError(f"array of {count} elements, {len(self.buf) - self.pos} bytes left")
            self.elements_left -= count
            if self.elements_left < 0:
                raise LegacyDecodeError("more elements in one request than the limit")
            if isinstance(element, tuple):
                return [self.struct(element) for _ in range(count)]
            return [self.value(element) for _ in range(count)]
        if kind in ("string", "nstring"):
            length = self.primitive("int16")
            if length < 0:
                if kind == "nstring":
                    return None
                raise LegacyDecodeError(f"null string at {self.pos} where the layout has none")
            if self.pos + length > len(self.buf):
                raise LegacyDecodeError("string runs past the request")
            text = self.buf[self.pos : self.pos + length].decode("utf-8")
            self.pos += length
            return text
        return self.primitive(kind)

    def primitive(self, kind: str) -> Any:
        packer = _STRUCTS[kind]
        (value,) = packer.unpack_from(self.buf, self.pos)
        self.pos += packer.size
        return value


_DEFAULTS: dict[str, Any] = {"nstring": None, "string": "", "bool": False}


def _write_struct(out: bytearray, fields: tuple[Field, ...], data: Mapping[str, Any]) -> None:
    """Fields the dict omits take the schema's default, as codec.build fills them: null for nullable
    strings, "" for strings, false, 0, and an empty array."""
    for name, kind in fields:
        default: Any = [] if isinstance(kind, tuple) else _DEFAULTS.get(kind, 0)
        _write(out, kind, data.get(name, default))


def _write(out: bytearray, kind: Any, value: Any) -> None:
    if isinstance(kind, tuple):
        _, element = kind
        if value is None:
            out += _STRUCTS["int32"].pack(-1)
            return
        out += _STRUCTS["int32"].pack(len(value))
        for item in value:
            if isinstance(element, tuple):
                _write_struct(out, element, item)
            else:
                _write(out, element, item)
        return
    if kind in ("string", "nstring"):
        if value is None:
            out += _STRUCTS["int16"].pack(-1)
            return
        raw = str(value).encode()
        out += _STRUCTS["int16"].pack(len(raw)) + raw
        return
    out += _STRUCTS[kind].pack(int(value) if kind != "bool" else bool(value))
