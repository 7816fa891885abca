"""One brook per Go-client test module (each test uses topics and groups of its own names)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from brook.testing.broker_process import BrookProcess, report_on_failure


@pytest.fixture(scope="module")
def _module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    broker = BrookProcess(data_dir=tmp_path_factory.mktemp("brook-data"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def go_broker(_module_broker: BrookProcess) -> BrookProcess:
    """The module's running broker; a failing test's report shows its log."""
    report_on_failure(_module_broker)
    return _module_broker
