"""Disk use per log dir, from DescribeLogDirs (key 35, v2), which confluent-kafka's AdminClient cannot send.

One request per broker over a plain socket, framed and decoded by brook's own protocol layer (the same kio
schemas brook answers with; Kafka 2.x-4.x answer v2 too). Best effort: a broker that cannot be reached this
way (down, or a listener that needs TLS or SASL) is reported with its error and no sizes.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from brook.protocol.client import decode_response, encode_request

__all__ = ["LogDir", "describe_log_dirs"]

_DESCRIBE_LOG_DIRS, _VERSION = 35, 2


@dataclass
class LogDir:
    broker: int
    path: str
    error: str | None = None
    unreachable: bool = False  # the broker refused or dropped the connection
    size_bytes: int = 0
    # (topic, partition) → bytes on this dir
    partition_bytes: dict[tuple[str, int], int] = field(default_factory=dict)


def describe_log_dirs(broker: int, address: tuple[str, int], timeout_s: float) -> list[LogDir]:
    """Every log dir of one broker with the size of each partition in it (blocking: run it in a thread)."""
    try:
        response = _exchange(address, {"topics": None}, timeout_s)
    except OSError as exc:
        text = f"cannot reach {address[0]}:{address[1]}: {exc}"
        return [LogDir(broker, "-", error=text, unreachable=True)]
    except (ValueError, struct.error) as exc:
        return [LogDir(broker, "-", error=f"DescribeLogDirs to {address[0]}:{address[1]} failed: {exc}")]
    dirs = []
    for result in response.results:
        log_dir = LogDir(broker, str(result.log_dir))
        code = int(result.error_code)
        if code != 0:
            name = getattr(result.error_code, "name", f"error {code}")
            log_dir.error = str(name).upper()
        for topic in result.topics:
            for p in topic.partitions:
                log_dir.partition_bytes[(str(topic.name), int(p.partition_index))] = int(p.partition_size)
        log_dir.size_bytes = sum(log_dir.partition_bytes.values())
        dirs.append(log_dir)
    return dirs


def _exchange(address: tuple[str, int], body: dict[str, object], timeout_s: float) -> Any:
    frame = encode_request(_DESCRIBE_LOG_DIRS, _VERSION, 1, "brook-console", body)
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(frame)
        (size,) = struct.unpack(">i", _read_exactly(sock, 4))
        _, response = decode_response(_DESCRIBE_LOG_DIRS, _VERSION, _read_exactly(sock, size))
    return response


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
