"""A minimal raw-socket Kafka client for robustness tests: send exact bytes, read exact answers."""

from __future__ import annotations

import socket
import struct
from typing import Any

from brook.protocol import codec


class RawClient:
    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self._correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self, api_key: int, version: int, body: dict[str, Any] | bytes) -> tuple[int, bytes]:
        self._correlation_id += 1
        payload = (
            body
            if isinstance(body, bytes)
            else codec.encode_body(codec.build(codec.request_class(api_key, version), body))
        )
        header = struct.pack(">hhih", api_key, version, self._correlation_id, 3) + b"raw"
        if not (api_key == 0 and version < 3) and codec.is_flexible_request(api_key, version):
            header += b"\x00"
        return self._correlation_id, struct.pack(">i", len(header) + len(payload)) + header + payload

    def request(self, api_key: int, version: int, body: dict[str, Any] | bytes) -> Any:
        correlation_id, data = self.frame(api_key, version, body)
        self.sock.sendall(data)
        response = self.read_frame()
        (got,) = struct.unpack_from(">i", response)
        assert got == correlation_id
        offset = 4
        if codec.is_flexible_request(api_key, version) and api_key != 18:
            offset += 1  # response header v1: empty tagged fields
        cls = codec.response_class(api_key, version)
        from kio.serial import entity_reader

        entity, _ = entity_reader(cls)(response, offset)
        return entity

    def read_frame(self) -> bytes:
        size_bytes = self._read_exactly(4)
        (size,) = struct.unpack(">i", size_bytes)
        return self._read_exactly(size)

    def is_closed_by_peer(self, timeout_s: float = 5.0) -> bool:
        self.sock.settimeout(timeout_s)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def _read_exactly(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError("connection closed by broker")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)
