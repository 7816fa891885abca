"""Cluster tests: several brokers, ZooKeeper (the `zookeeper` fixture from brook.testing)."""

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)
    # Soak runs (minutes of repeated faults) only when asked for (`make soak`, i.e. `-m soak`), like `make chaos`.
    if "soak" not in (config.getoption("markexpr", "") or ""):
        soak = [item for item in items if item.get_closest_marker("soak")]
        if soak:
            config.hook.pytest_deselected(items=soak)
            items[:] = [item for item in items if not item.get_closest_marker("soak")]


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
