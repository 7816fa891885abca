"""Partition sizes for `topic describe`, from DescribeLogDirs.

confluent-kafka's AdminClient cannot send DescribeLogDirs, so this one request goes over a plain socket,
encoded and decoded by brook's own protocol codec (the same kio schemas the broker answers with).
Sizes are best effort: any failure (an unreachable broker, a listener that needs TLS or SASL) leaves
them unknown, shown as `-`.
"""

from __future__ import annotations

import struct

from brook.cli.raw_request import exchange

__all__ = ["partition_sizes"]

_DESCRIBE_LOG_DIRS = 35
_VERSION = 2
_TIMEOUT_S = 5.0


def partition_sizes(
    brokers: dict[int, tuple[str, int]], leaders: dict[int, int], topic: str
) -> dict[int, int]:
    """{partition: bytes on its leader's disk} for the partitions whose leader answered."""
    sizes: dict[int, int] = {}
    for node_id in sorted(set(leaders.values())):
        if node_id not in brokers:
            continue
        try:
            reported = _describe(
                brokers[node_id], topic, sorted(p for p, n in leaders.items() if n == node_id)
            )
        except (OSError, ValueError, struct.error):
            continue
        for partition, size in reported.items():
            if leaders.get(partition) == node_id:
                sizes[partition] = size
    return sizes


def _describe(address: tuple[str, int], topic: str, partitions: list[int]) -> dict[int, int]:
    response = exchange(
        address,
        _DESCRIBE_LOG_DIRS,
        _VERSION,
        {"topics": [{"topic": topic, "partitions": partitions}]},
        timeout_s=_TIMEOUT_S,
    )
    sizes: dict[int, int] = {}
    for result in response.results:
        for t in result.topics:
            if t.name == topic:
                for p in t.partitions:
                    sizes[p.partition_index] = sizes.get(p.partition_index, 0) + p.partition_size
    return sizes
