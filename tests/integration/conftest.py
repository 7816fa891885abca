"""Integration tests start real brook processes (the `kafka_broker` fixture from brook.testing)."""

from collections.abc import Iterator

import pytest

from brook.testing import BrookProcess
from tests.integration.raw_client import RawClient


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # Full-size scale runs take minutes: only when asked for (`make scale`, i.e. `-m scale`).
    if "scale" not in (config.getoption("markexpr", "") or ""):
        scale = [item for item in items if item.get_closest_marker("scale")]
        if scale:
            config.hook.pytest_deselected(items=scale)
            items[:] = [item for item in items if not item.get_closest_marker("scale")]


@pytest.fixture
def raw(broker: BrookProcess) -> Iterator[RawClient]:
    """A raw connection to the module's `broker` fixture, closed after the test."""
    with RawClient(broker.bootstrap) as client:
        yield client
