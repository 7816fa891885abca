"""Cluster tests: several brokers, ZooKeeper (the `zookeeper` fixture from brook.testing)."""

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture
def zk(zookeeper: str) -> Iterator[KazooClient]:
    """A kazoo client inside the test's chroot (created here if no store made it yet), to inspect znodes."""
    hosts, _, chroot = zookeeper.partition("/")
    root = KazooClient(hosts=hosts)
    root.start(timeout=10)
    root.ensure_path("/" + chroot)
    root.stop()
    root.close()
    client = KazooClient(hosts=zookeeper)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()
