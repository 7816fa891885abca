"""meta.properties: each log dir records which cluster and broker it belongs to, as Kafka's do.

A dir that belongs to another cluster or broker id is refused at start-up with a clear message
instead of being served, which would mix two brokers' data. Layout (Java properties, ZooKeeper-mode
version 0): `version=0`, `broker.id=<node id>`, `cluster.id=<id>`.
"""

from __future__ import annotations

from pathlib import Path

from brook.broker.config import load_properties
from brook.common.files import write_atomically

__all__ = ["META_PROPERTIES", "LogDirOwnershipError", "claim_log_dirs"]

META_PROPERTIES = "meta.properties"


class LogDirOwnershipError(Exception):
    """A log dir's meta.properties names another cluster or broker."""


def claim_log_dirs(log_dirs: list[Path], *, cluster_id: str, node_id: int) -> None:
    """Check every dir's meta.properties, writing it where it is missing."""
    for log_dir in log_dirs:
        path = log_dir / META_PROPERTIES
        if not path.exists():
            log_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(path, f"version=0\nbroker.id={node_id}\ncluster.id={cluster_id}\n".encode())
            continue
        props = load_properties(path)
        if props.get("cluster.id", cluster_id) != cluster_id:
            raise LogDirOwnershipError(
                f"log dir {log_dir} belongs to cluster {props['cluster.id']}, not {cluster_id}"
            )
        if props.get("broker.id", str(node_id)) != str(node_id):
            raise LogDirOwnershipError(
                f"log dir {log_dir} belongs to broker {props['broker.id']}, but node.id is {node_id}"
            )
