"""Console tests: a real broker (or cluster) with the console, driven by Debian's headless Chromium through
Selenium and Debian's chromedriver (no browser download). One browser per test module."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from brook.testing.managed_process import terminate

_CONSOLE_LINE = re.compile(r"brook console on http://(?P<host>[\d.]+):(?P<port>\d+)/")
_T = TypeVar("_T")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def console_url(output: Callable[[], list[str]], timeout_s: float = 60.0) -> str:
    """The console's address from its start line ('brook console on http://127.0.0.1:PORT/')."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in output():
            match = _CONSOLE_LINE.search(line)
            if match:
                return f"http://{match.group('host')}:{match.group('port')}"
        time.sleep(0.05)
    raise AssertionError("the console did not print its address:\n" + "\n".join(output()))


def wait_until(
    predicate: Callable[[], _T], timeout_s: float, what: str, describe: Callable[[], str] | None = None
) -> _T:
    """Poll until predicate() is truthy (exceptions count as not yet); fail naming `what` after timeout_s, with
    the last outcome (an error, or the last falsy value) and what `describe()` says of the state then."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # noqa: BLE001 (a page between two live updates: try again)
            last = exc
        else:
            if value:
                return value
            last = value
        time.sleep(0.2)
    state = ""
    if describe is not None:
        try:
            state = f"; {describe()}"
        except Exception as exc:  # noqa: BLE001 - the failure is the timeout; this only adds context
            state = f"; describing the state failed: {exc!r}"
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last outcome: {last!r}){state}")


_READ_JS = """
const [css, attribute, displayedOnly] = arguments;
return Array.from(document.querySelectorAll(css))
  .filter((e) => !displayedOnly || e.getClientRects().length > 0)
  .map((e) => (attribute ? e.getAttribute(attribute) : e.innerText.trim()));
"""


def live_attrs(
    browser: Any, css: str, attribute: str | None = None, displayed_only: bool = False
) -> list[str]:
    """An attribute (or, without one, the shown text) of every element `css` matches, read in one step in the
    page. A live update replaces everything under `[data-live]` at any moment, so a Selenium element found first
    and read after can be gone (StaleElementReferenceException) by the time it is read."""
    return [str(v) for v in browser.execute_script(_READ_JS, css, attribute, displayed_only)]


def live_texts(browser: Any, css: str) -> list[str]:
    """The shown text of every element `css` matches (see live_attrs)."""
    return live_attrs(browser, css)


def live_attr(browser: Any, css: str, attribute: str | None = None) -> str:
    """The attribute (or shown text) of the first element `css` matches; AssertionError if none does."""
    values = live_attrs(browser, css, attribute)
    if not values:
        raise AssertionError(f"nothing on {browser.current_url} matches {css!r}")
    return values[0]


def live_text(browser: Any, css: str) -> str:
    """The shown text of the first element `css` matches (see live_attrs); AssertionError if none does."""
    return live_attr(browser, css)


def listed_groups(admin: Any) -> str:
    """What ListGroups answers a client now: the groups, and each broker's error."""
    listed = admin.list_consumer_groups(request_timeout=10).result(timeout=10)
    groups = [(g.group_id, str(g.state)) for g in listed.valid]
    return f"ListGroups: {groups}, errors {[str(e) for e in listed.errors]}"


def console_state(url: str, group: str) -> str:
    """What the console shows now: the group page's status and rows, and the snapshot's errors, if any."""
    try:
        status, _, body = get_page(f"{url}/groups/{group}")
        rows = body.count('data-tp="')
    except urllib.error.HTTPError as exc:
        status, rows = exc.code, 0
    _, _, overview = get_page(url + "/")
    errors = re.findall(r'<p class="warning cluster-error">(.*?)</p>', overview, re.S)
    sampled = re.search(r'data-epoch="([0-9.]+)"', overview)
    age = f"{time.time() - float(sampled.group(1)):.1f} s ago" if sampled else "never"
    return f"group page {status} with {rows} rows; snapshot taken {age}, its errors: {errors or 'none'}"


# every page of the wide broker below (the topic page's live part too), for the scale test and the bench
WIDE_PAGES = ["/", "/topics", "/topics/wide", "/topics/wide?fragment=1", "/groups", "/groups/wide-group"]


def get_page(url: str) -> tuple[int, float, str]:
    """(status, milliseconds, body) of one GET."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode()
            return response.status, (time.perf_counter() - started) * 1000, body
    except (
        urllib.error.HTTPError
    ) as exc:  # (a page not sampled yet: 404) its socket closed now, not by the GC
        exc.close()
        raise


@contextmanager
def wide_console(data_dir: Path, partitions: int, small_topics: int = 0) -> Iterator[tuple[Any, str]]:
    """A broker serving the console with one topic "wide" of `partitions` partitions and a group "wide-group"
    committed on all of them (and `small_topics` more topics of one partition each), once the console's
    snapshot shows them all: (the BrookProcess, the console URL)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    from brook.testing.broker_process import BrookProcess

    broker = BrookProcess(
        data_dir=data_dir,
        startup_timeout_s=60.0,
        overrides={"brook.console.port": "0", "offsets.topic.num.partitions": "1"},
    )
    broker.start()
    try:
        url = console_url(lambda: list(broker.output))
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topics = [NewTopic("wide", partitions, 1)] + [
            NewTopic(f"small-{i}", 1, 1) for i in range(small_topics)
        ]
        for future in admin.create_topics(topics, operation_timeout=60).values():
            future.result(120)
        offsets = [TopicPartition("wide", p, 0) for p in range(partitions)]

        def committed() -> bool:
            """librdkafka answers a partition's error (NOT_COORDINATOR while the group's new __consumer_offsets
            partition is taken over; it does not retry those) in the result, without raising: ask again."""
            request = [ConsumerGroupTopicPartitions("wide-group", offsets)]
            result = admin.alter_consumer_group_offsets(request)["wide-group"].result(60)
            return all(tp.error is None for tp in result.topic_partitions)

        wait_until(committed, 60, "the group's offsets committed")
        wait_until(
            lambda: (
                get_page(url + "/groups/wide-group")[2].count('data-tp="wide/') == partitions
                and get_page(url + "/topics")[2].count('data-topic="small-') == small_topics
            ),
            60,
            "the console's snapshot with every partition and the group",
            lambda: f"{console_state(url, 'wide-group')}; {listed_groups(admin)}",
        )
        yield broker, url
    finally:
        broker.stop()


class ConsoleProcess:
    """`brook console` in a child process, on a free port."""

    def __init__(self, bootstrap: str, *extra: str) -> None:
        self.output: deque[str] = deque(maxlen=2000)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "brook", "console", "-b", bootstrap, "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self.url = console_url(lambda: list(self.output))

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def stop(self) -> None:
        terminate(self.process, 15)
        self._reader.join(5)
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.common.exceptions import SessionNotCreatedException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    except SessionNotCreatedException:  # Chromium slow to start on a loaded machine: once more
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
