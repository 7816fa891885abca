"""Disk use per log dir, from DescribeLogDirs (key 35, v2), which confluent-kafka's AdminClient cannot send.

One request per broker over a socket of brook's own (protocol/secure_socket.py: TLS and SASL from the same
client properties the console's confluent-kafka clients take), framed and decoded by brook's own protocol layer
(the same kio schemas brook answers with; Kafka 2.x-4.x answer v2 too). Best effort: a broker that cannot be
reached (down, refusing, or refusing the credentials) is reported with its error and no sizes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from brook.protocol.secure_socket import call, connect

__all__ = ["LogDir", "describe_log_dirs"]

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


def describe_log_dirs(
    broker: int, address: tuple[str, int], timeout_s: float, client_config: Mapping[str, str] | None = None
) -> list[LogDir]:
    """Every log dir of one broker with the size of each partition in it (blocking: run it in a thread)."""
    where = f"{address[0]}:{address[1]}"
    try:
        with connect(address, timeout_s, client_config or {}, _CLIENT_ID) as sock:
            response = call(sock, _DESCRIBE_LOG_DIRS, _VERSION, {"topics": None}, _CLIENT_ID, 1)
    except (ConnectionError, TimeoutError) as exc:  # refused, reset, closed, silent: the broker is not there
        return [LogDir(broker, "-", error=f"cannot reach {where}: {exc}", unreachable=True)]
    except (
        OSError
    ) as exc:  # TLS or SASL refused (ssl.SSLError too): the broker is there, the console is not let in
        return [LogDir(broker, "-", error=f"cannot connect to {where}: {exc}")]
    except (ValueError, struct.error) as exc:
        return [LogDir(broker, "-", error=f"DescribeLogDirs to {where} failed: {exc}")]
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
