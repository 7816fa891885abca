"""Sans-IO client side of a Kafka connection: framed requests out, decoded responses in.

Used by brook as a client of other brokers (replica fetchers). Request header v1 (v2 with tagged fields
for flexible versions); response header v0 (v1, with tagged fields, for flexible versions except
ApiVersions). Knows no sockets: the caller writes `encode_request`'s bytes and feeds whole frames back.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from brook.protocol import codec
from brook.protocol.varint import read_uvarint

__all__ = ["decode_response", "encode_request"]

_API_VERSIONS_KEY = 18
_HEADER = struct.Struct(">hhi")
_SIZE = struct.Struct(">i")


def encode_request(
    api_key: int, version: int, correlation_id: int, client_id: str, body: Mapping[str, Any]
) -> bytes:
    """A whole frame (size prefix included) for a request described as a version-independent dict."""
    entity = codec.build(codec.request_class(api_key, version), body)
    client = client_id.encode()
    header = _HEADER.pack(api_key, version, correlation_id) + struct.pack(">h", len(client)) + client
    if codec.is_flexible_request(api_key, version):
        header += b"\x00"  # no tagged fields
    payload = header + codec.encode_body(entity)
    return _SIZE.pack(len(payload)) + payload


def decode_response(api_key: int, version: int, frame: bytes) -> tuple[int, Any]:
    """(correlation_id, kio response entity) from a frame without its size prefix."""
    (correlation_id,) = _SIZE.unpack_from(frame, 0)
    pos = 4
    if codec.is_flexible_request(api_key, version) and api_key != _API_VERSIONS_KEY:
        count, pos = read_uvarint(frame, pos)
        for _ in range(count):
            _tag, pos = read_uvarint(frame, pos)
            size, pos = read_uvarint(frame, pos)
            pos += size
    return correlation_id, codec.decode_response_body(api_key, version, frame, pos)
