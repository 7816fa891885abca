"""Whole-suite hooks: when a test fails, its report shows what the brokers it started logged."""

import re
from collections.abc import Iterator

import pytest

from brook.testing.broker_process import forget_started, started_brokers

_NOTABLE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Error:|exit")
_TAIL_LINES = 12
_NOTABLE_LINES = 25


def pytest_runtest_setup(item: pytest.Item) -> None:
    forget_started()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for broker in started_brokers():
        lines = list(broker.output)
        notable = [line for line in lines[:-_TAIL_LINES] if _NOTABLE.search(line)][-_NOTABLE_LINES:]
        code = None if broker.process is None else broker.process.poll()
        state = "running" if code is None else f"exited {code}"
        text = "\n".join([*notable, "...", *lines[-_TAIL_LINES:]] if notable else lines[-_TAIL_LINES:])
        report.sections.append((f"brook {broker.bootstrap} ({state}): warnings and last lines", text))
