"""A minimal raw-socket Kafka client for robustness tests: send exact bytes, read exact answers."""

from __future__ import annotations

import socket
import struct
from typing import Any

from brook.protocol import codec

ALL_BYTES = 0x7FFFFFFF


def produce_body(
    topic: str, partition: int, records: bytes, *, acks: int = 1, timeout_ms: int = 5000
) -> dict[str, Any]:
    """A Produce body (v3+) with one batch for one partition."""
    return {
        "acks": acks,
        "timeout": timeout_ms,
        "topic_data": [{"name": topic, "partition_data": [{"index": partition, "records": records}]}],
    }


def fetch_body(
    topic: str,
    partition: int,
    *,
    fetch_offset: int = 0,
    max_wait_ms: int = 100,
    max_bytes: int = ALL_BYTES,
    partition_max_bytes: int = ALL_BYTES,
) -> dict[str, Any]:
    """A consumer's Fetch body (v4+, read_uncommitted) for one partition."""
    return {
        "replica_id": -1,
        "max_wait": max_wait_ms,
        "min_bytes": 1,
        "max_bytes": max_bytes,
        "isolation_level": 0,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": partition,
                        "fetch_offset": fetch_offset,
                        "partition_max_bytes": partition_max_bytes,
                    }
                ],
            }
        ],
    }


def acl_creation(**fields: Any) -> dict[str, Any]:
    """A CreateAcls creation (v1+): by default ALLOW User:x to READ the LITERAL topic "x"; `fields` override."""
    return {
        "resource_type": 2,  # TOPIC
        "resource_name": "x",
        "resource_pattern_type": 3,  # LITERAL
        "principal": "User:x",
        "host": "*",
        "operation": 3,  # READ
        "permission_type": 3,  # ALLOW
        **fields,
    }


def acl_filter(**fields: Any) -> dict[str, Any]:
    """A DescribeAcls body or DeleteAcls filter (v1+) that matches every ACL (ANY = 1); `fields` override."""
    return {
        "resource_type_filter": 1,
        "resource_name_filter": None,
        "pattern_type_filter": 1,
        "principal_filter": None,
        "host_filter": None,
        "operation": 1,
        "permission_type": 1,
        **fields,
    }


def log_end_offset(bootstrap: str, topic: str, partition: int = 0) -> int:
    """The partition's latest offset (ListOffsets v5, timestamp -1), over a connection of its own."""
    body = {
        "replica_id": -1,
        "topics": [{"name": topic, "partitions": [{"partition_index": partition, "timestamp": -1}]}],
    }
    with RawClient(bootstrap) as raw:
        return raw.request(2, 5, body).topics[0].partitions[0].offset


class RawClient:
    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self._correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        return read_frame(self.sock)

    def is_closed_by_peer(self, timeout_s: float = 5.0) -> bool:
        self.sock.settimeout(timeout_s)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


def read_frame(sock: socket.socket) -> bytes:
    """One size-prefixed frame from `sock`: its bytes after the size."""
    (size,) = struct.unpack(">i", read_exactly(sock, 4))
    return read_exactly(sock, size)


def read_exactly(sock: socket.socket, n: int) -> bytes:
    """`n` bytes from `sock`; ConnectionError if the broker closes the connection first."""
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("connection closed by broker")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
