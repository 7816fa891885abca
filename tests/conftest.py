"""Whole-suite hooks: when a test fails, its report shows what the brokers it started logged; a test file that
leaves an unclosed socket or file behind fails at its last test."""

import gc
import re
import warnings
from collections.abc import Iterator

import pytest

from brook.testing.broker_process import forget_started, started_brokers

_NOTABLE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Error:|exit")
_TAIL_LINES = 12
_NOTABLE_LINES = 25


def pytest_runtest_setup(item: pytest.Item) -> None:
    forget_started()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a file's last test, collect garbage and fail that test for every unclosed socket or file it finds.

    A leaked object caught in a reference cycle (an HTTPError holding its response, say) is only finalized by the
    garbage collector, so without this its ResourceWarning would land in whatever test runs when the collector
    does; collecting once per file names the file that leaked, for the price of one collection per file.
    """
    if nextitem is not None and nextitem.path == item.path:
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    leaks = sorted({str(w.message) for w in caught if issubclass(w.category, ResourceWarning)})
    if leaks:
        pytest.fail(f"{item.path.name} left unclosed resources behind: " + "; ".join(leaks), pytrace=False)


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
