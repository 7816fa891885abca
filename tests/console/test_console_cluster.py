"""`brook console` (its own process) against a 3-broker cluster on a real ZooKeeper, in headless Chromium:
a killed broker shows as down, and its partitions as under-replicated, within seconds and without a reload."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from selenium.webdriver.common.by import By

from brook.testing.cluster import BrookCluster
from tests.console.conftest import ConsoleProcess, live_attrs, live_text, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.zookeeper]


@pytest.fixture
def cluster(zookeeper, tmp_path) -> Iterator[BrookCluster]:
    overrides = {"zookeeper.session.timeout.ms": "6000", "replica.lag.time.max.ms": "5000"}
    with BrookCluster(3, zookeeper=zookeeper, data_dir=tmp_path, overrides=overrides) as cluster:
        yield cluster


def test_a_killed_broker_shows_as_down_and_its_partitions_under_replicated(browser, cluster):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    admin.create_topics([NewTopic("replicated", 6, 3, config={"min.insync.replicas": "3"})])[
        "replicated"
    ].result(30)
    cluster.wait_until(
        lambda: all(
            len((cluster.partition_state("replicated", p) or {}).get("isr", [])) == 3 for p in range(6)
        ),
        60,
        "full ISRs",
    )
    console = ConsoleProcess(cluster.bootstrap, "--interval", "0.5", "--timeout", "5")
    try:
        browser.get(console.url + "/")
        wait_until(
            lambda: live_attrs(browser, "#brokers tr.up", "data-broker") == ["0", "1", "2"],
            30,
            "three brokers up",
        )
        wait_until(
            lambda: live_text(browser, "#under-replicated") == "0", 30, "no under-replicated partitions"
        )
        assert live_text(browser, "#under-min-isr") == "0"

        cluster.kill(2)
        killed_at = time.monotonic()
        wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#brokers tr.down[data-broker='2']"),
            60,
            "broker 2 down",
        )
        first_sign_s = time.monotonic() - killed_at  # unreachable (still registered), or already down
        wait_until(
            lambda: "down" in live_text(browser, "#brokers tr[data-broker='2']"), 60, "broker 2 deregistered"
        )
        down_s = time.monotonic() - killed_at
        wait_until(
            lambda: int(live_text(browser, "#under-replicated")) == 6, 60, "6 under-replicated partitions"
        )
        under_s = time.monotonic() - killed_at
        assert live_text(browser, "#brokers-up") == "2 / 3"
        assert live_text(browser, "#offline") == "0"  # brokers 0 and 1 lead everything now
        assert live_text(browser, "#under-min-isr") == "6"  # ISR 2 < min.insync.replicas 3
        if os.environ.get("BROOK_CONSOLE_SCREENSHOTS"):  # docs/console.md's picture of a failure
            browser.save_screenshot(
                os.path.join(os.environ["BROOK_CONSOLE_SCREENSHOTS"], "overview-cluster.png")
            )
        shown = (
            f"broker shown unreachable after {first_sign_s:.1f}s, down (deregistered) after {down_s:.1f}s, "
            f"its partitions under-replicated after {under_s:.1f}s"
        )
        print(f"\nconsole: {shown}")  # noqa: T201 - the figure, visible with -s
    finally:
        console.stop()
