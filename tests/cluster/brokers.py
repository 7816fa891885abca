"""Starting brooks that share one ZooKeeper, for the cluster tests."""

from __future__ import annotations

from pathlib import Path

from brook.testing import BrookProcess


def brook_on(zookeeper: str, data_dir: Path, node_id: int, **overrides: str) -> BrookProcess:
    """A broker with its own data dir and node id on the given ZooKeeper (a chroot per test)."""
    return BrookProcess(
        data_dir=data_dir,
        overrides={"zookeeper.connect": zookeeper, "broker.id": str(node_id), **overrides},
    )
