"""Disk use per log dir, from DescribeLogDirs (key 35, v2), which confluent-kafka's AdminClient cannot send.

One request per broker and sample over a socket of brook's own, kept open between samples (protocol/secure_socket.py: TLS and SASL from the same
client properties the console's confluent-kafka clients take), framed and decoded by brook's own protocol layer
(the same kio schemas brook answers with; Kafka 2.x-4.x answer v2 too). Best effort: a broker that cannot be
reached (down, refusing, or refusing the credentials) is reported with its error and no sizes.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from brook.protocol.secure_socket import call, connect

__all__ = ["LogDir", "LogDirReader"]

_DESCRIBE_LOG_DIRS, _VERSION = 35, 2
_CLIENT_ID = "brook-console"


@dataclass
class LogDir:
    broker: int
    path: str
    error: str | None = None
    unreachable: bool = False  # the broker refused, dropped or did not answer the connection
    size_bytes: int = 0
    # (topic, partition) → bytes on this dir
    partition_bytes: dict[tuple[str, int], int] = field(default_factory=dict)


class LogDirReader:
    """DescribeLogDirs to each broker over a connection kept between samples (a TLS handshake and a SASL
    login every couple of seconds per broker would be work for nothing). A kept connection that fails is
    dropped and the request tried once on a new one, so a broker that went away is told from a stale socket.
    Used from one sampling thread at a time; the lock only guards close()."""

    def __init__(self, client_config: Mapping[str, str] | None = None) -> None:
        self._config = dict(client_config or {})
        self._sockets: dict[tuple[str, int], socket.socket] = {}
        self._correlation_id = 0
        self._lock = threading.Lock()

    def read(self, broker: int, address: tuple[str, int], timeout_s: float) -> list[LogDir]:
        """Every log dir of one broker with the size of each partition in it (blocking: run it in a thread)."""
        where = f"{address[0]}:{address[1]}"
        try:
            response = self._request(address, timeout_s)
        except (
            ConnectionError,
            TimeoutError,
        ) as exc:  # refused, reset, closed, silent: the broker is not there
            return [LogDir(broker, "-", error=f"cannot reach {where}: {exc}", unreachable=True)]
        except (
            OSError
        ) as exc:  # TLS or SASL refused (ssl.SSLError too): the broker is there, the console is not let in
            return [LogDir(broker, "-", error=f"cannot connect to {where}: {exc}")]
        except (ValueError, struct.error) as exc:
            return [LogDir(broker, "-", error=f"DescribeLogDirs to {where} failed: {exc}")]
        return _log_dirs(broker, response)

    def close(self) -> None:
        with self._lock:
            sockets, self._sockets = list(self._sockets.values()), {}
        for sock in sockets:
            sock.close()

    def _request(self, address: tuple[str, int], timeout_s: float) -> Any:
        kept = self._sockets.pop(address, None)
        if kept is not None:
            try:
                response = self._call(kept, timeout_s)
            except TimeoutError:  # a silent broker: another connection would wait as long again
                kept.close()
                raise
            except (OSError, ValueError, struct.error):
                kept.close()  # stale (the broker restarted or went away): once more on a new connection
            else:
                self._keep(address, kept)
                return response
        sock = connect(address, timeout_s, self._config, _CLIENT_ID)
        try:
            response = self._call(sock, timeout_s)
        except BaseException:
            sock.close()
            raise
        self._keep(address, sock)
        return response

    def _call(self, sock: socket.socket, timeout_s: float) -> Any:
        sock.settimeout(timeout_s)
        self._correlation_id += 1
        return call(sock, _DESCRIBE_LOG_DIRS, _VERSION, {"topics": None}, _CLIENT_ID, self._correlation_id)

    def _keep(self, address: tuple[str, int], sock: socket.socket) -> None:
        with self._lock:
            self._sockets[address] = sock


def _log_dirs(broker: int, response: Any) -> list[LogDir]:
    if int(getattr(response, "error_code", 0) or 0) != 0:  # v3+: a top-level error (authorization)
        return [LogDir(broker, "-", error=f"DescribeLogDirs: {_error_name(response.error_code)}")]
    dirs = []
    for result in response.results:
        log_dir = LogDir(broker, str(result.log_dir))
        if int(result.error_code) != 0:
            log_dir.error = _error_name(result.error_code)
        for topic in result.topics:
            for p in topic.partitions:
                log_dir.partition_bytes[(str(topic.name), int(p.partition_index))] = int(p.partition_size)
        log_dir.size_bytes = sum(log_dir.partition_bytes.values())
        dirs.append(log_dir)
    return dirs


def _error_name(code: object) -> str:
    name = getattr(code, "name", None)
    return name.upper() if isinstance(name, str) else f"error {code}"
