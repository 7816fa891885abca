"""The web console in headless Chromium against a real broker serving it (`brook.console.port`): every page
renders real data, updates live, and its forms change the cluster (checked through a Kafka client)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from brook.testing.broker_process import BrookProcess
from tests.console.conftest import (
    console_url,
    get_page,
    live_attr,
    live_attrs,
    live_text,
    live_texts,
    wait_until,
)
from tests.integration.metrics_helpers import metrics_url, scrape

pytestmark = pytest.mark.integration

# docs/console.md's screenshots come from this module: BROOK_CONSOLE_SCREENSHOTS=docs/console pytest ...
_SCREENSHOTS = os.environ.get("BROOK_CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    process = BrookProcess(
        data_dir=tmp_path_factory.mktemp("console-broker"),
        startup_timeout_s=60.0,
        # the console reads this broker's /metrics for bytes in/out per topic
        overrides={"brook.console.port": "0", "num.partitions": "1", "brook.metrics.port": "0"},
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def url(broker: BrookProcess) -> str:
    return console_url(lambda: list(broker.output))


@pytest.fixture(scope="module")
def admin(broker: BrookProcess) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def _create(admin: AdminClient, name: str, partitions: int = 1) -> None:
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def _produce(bootstrap: str, topic: str, records: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(partition, offset) of each record, in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    acked: list[Any] = []
    for record in records:
        producer.produce(topic, on_delivery=lambda err, msg: acked.append((err, msg)), **record)
    assert producer.flush(30) == 0
    assert all(err is None for err, _ in acked)
    return [(msg.partition(), msg.offset()) for _, msg in acked]


def _shot(browser: Any, name: str) -> None:
    if _SCREENSHOTS:
        Path(_SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(_SCREENSHOTS) / f"{name}.png"))


def _fill(browser: Any, element_id: str, value: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def test_overview_shows_the_broker_partitions_and_log_dir(browser, url, broker, admin):
    _create(admin, "ov-topic", 3)
    _produce(broker.bootstrap, "ov-topic", [{"value": b"x"}] * 5)
    browser.get(url + "/")
    row = live_text(browser, "#brokers tr[data-broker='0']")
    assert "up" in row
    assert f"127.0.0.1:{broker.port}" in row
    assert "yes" in row  # the only broker is the controller

    # the partitions count follows the cluster (live), at least the 3 of ov-topic, all online
    def counts() -> tuple[int, int]:
        online, total = (int(n) for n in live_text(browser, "#partitions-online").split(" / "))
        return online, total

    wait_until(lambda: counts()[1] >= 3, 30, "ov-topic's partitions counted")
    online, total = counts()
    assert online == total
    assert live_text(browser, "#under-replicated") == "0"
    assert live_text(browser, "#offline") == "0"
    assert str(broker.data_dir) in live_text(browser, "#log-dirs tbody tr")
    _shot(browser, "overview")


def test_topics_page_lists_topics_and_updates_live(browser, url, broker, admin):
    _create(admin, "live-topic", 2)
    _produce(broker.bootstrap, "live-topic", [{"value": b"a", "partition": 0}] * 3)
    browser.get(url + "/topics")
    wait_until(
        lambda: live_text(browser, "tr[data-topic='live-topic'] td.messages") == "3", 30, "3 messages listed"
    )
    cells = live_texts(browser, "tr[data-topic='live-topic'] td")
    assert cells[1:3] == ["2", "1"]  # partitions, replication
    # no reload: the server-sent events bring the new count
    _produce(broker.bootstrap, "live-topic", [{"value": b"b", "partition": 1}] * 4)
    wait_until(
        lambda: live_text(browser, "tr[data-topic='live-topic'] td.messages") == "7", 30, "7 messages, live"
    )
    # the filter hides the other topics
    _fill(browser, "topic-filter", "live-")
    shown = live_attrs(browser, "#topics-table tbody tr", "data-topic", displayed_only=True)
    assert shown == ["live-topic"]
    browser.find_element(By.ID, "topic-filter").send_keys(Keys.BACKSPACE * len("live-"))
    shown = live_attrs(browser, "#topics-table tbody tr", "data-topic", displayed_only=True)
    assert {"live-topic", "ov-topic"} <= set(shown)
    assert "__consumer_offsets" not in shown  # internal topics only when asked for
    _shot(browser, "topics")


def test_bytes_in_and_out_per_topic_and_in_all_come_from_the_brokers_metrics(browser, url, broker, admin):
    _create(admin, "metered")
    browser.get(url + "/topics")
    wait_until(
        lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-topic='metered']"), 30, "metered listed"
    )

    def rate(column: str) -> float:
        return float(live_attr(browser, f"tr[data-topic='metered'] td.{column}", "data-value"))

    assert rate("bytes-in") == rate("bytes-out") == 0
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "metered-reader", "auto.offset.reset": "earliest"}
    )
    try:

        def produce_one() -> None:  # a record each poll: the rates are over the last 10 s of samples
            producer.produce("metered", value=b"x" * 1000)
            producer.flush(10)

        def producing() -> bool:
            produce_one()
            return rate("bytes-in") > 0

        wait_until(producing, 60, "a bytes-in rate for the topic")
        assert rate("bytes-out") == 0  # nobody read it yet
        consumer.subscribe(["metered"])

        def consume_some() -> None:
            if consumer.poll(0.5) is not None:
                consumer.commit(asynchronous=False)

        def consuming() -> bool:
            produce_one()
            consume_some()
            return rate("bytes-out") > 0

        wait_until(consuming, 60, "a bytes-out rate for the topic")
        browser.get(url + "/topics/metered")
        assert live_text(browser, "#topic-bytes-in").endswith("/s")

        # the overview's throughput: messages and bytes in and out, and the log dirs' growth, all moving
        browser.get(url + "/")
        cards = ("messages-in", "messages-out", "bytes-in", "bytes-out", "disk-growth")

        def all_moving() -> bool:
            produce_one()
            consume_some()
            values = [float(live_attr(browser, f"#{c}", "data-value")) for c in cards]
            return all(v > 0 for v in values)

        wait_until(all_moving, 60, "every throughput card above 0")
    finally:
        consumer.close()


def test_creating_a_topic_in_the_ui_creates_it(browser, url, admin):
    browser.get(url + "/topics")
    _fill(browser, "new-topic-name", "made-in-ui")
    _fill(browser, "new-topic-partitions", "4")
    _fill(browser, "new-topic-configs", "retention.ms=123456")
    browser.find_element(By.ID, "create-topic-submit").click()
    wait_until(lambda: live_text(browser, "#topic-name") == "made-in-ui", 30, "the new topic's page")
    assert "Topic made-in-ui created" in live_text(browser, "#notice")
    metadata = admin.list_topics("made-in-ui", timeout=10)
    assert sorted(metadata.topics["made-in-ui"].partitions) == [0, 1, 2, 3]
    resource = ConfigResource(ResourceType.TOPIC, "made-in-ui")
    configs = admin.describe_configs([resource])[resource].result(30)
    assert configs["retention.ms"].value == "123456"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#partitions tbody tr")) == 4


def test_creating_a_topic_that_exists_shows_the_brokers_error(browser, url, admin):
    _create(admin, "taken")
    browser.get(url + "/topics")
    _fill(browser, "new-topic-name", "taken")
    browser.find_element(By.ID, "create-topic-submit").click()
    wait_until(
        lambda: "TOPIC_ALREADY_EXISTS" in live_text(browser, "#error"),
        30,
        "the error on the page",
        lambda: f"at {browser.current_url}: {live_text(browser, 'main')[:500]!r}",
    )


def test_message_browser_finds_a_record_by_key_and_by_timestamp(browser, url, broker, admin):
    _create(admin, "browse-me")
    base_ms = int(time.time() * 1000) - 60_000
    records = [
        {"key": f"key-{i}".encode(), "value": f'{{"n": {i}}}'.encode(), "timestamp": base_ms + i * 1000}
        for i in range(20)
    ]
    records[7]["key"] = b"needle-key"
    records[7]["headers"] = [("trace", b"abc"), ("raw", b"\x00\xff")]
    records[12]["value"] = b"\x00\x01binary"
    offsets = _produce(broker.bootstrap, "browse-me", records)
    assert [o for _, o in offsets] == list(range(20))

    browser.get(url + "/topics/browse-me")
    Select(browser.find_element(By.ID, "browse-mode")).select_by_value("offset")
    _fill(browser, "browse-offset", "0")
    _fill(browser, "browse-key", "needle")
    browser.find_element(By.ID, "browse-submit").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#records tbody tr"), 30, "browse results")
    rows = browser.find_elements(By.CSS_SELECTOR, "#records tbody tr[data-offset]")
    assert [r.get_attribute("data-offset") for r in rows] == ["7"]
    assert live_text(browser, "#records td.key pre") == "needle-key"
    assert '"n": 7' in live_text(browser, "#records td.value pre")  # pretty-printed JSON
    headers = live_text(browser, "#records td.headers")
    assert "trace: abc" in headers
    assert "raw: AP8=" in headers  # binary header as base64
    _shot(browser, "topic")

    # from a timestamp: the first record at or after it
    browser.get(url + "/topics/browse-me")
    Select(browser.find_element(By.ID, "browse-mode")).select_by_value("timestamp")
    _fill(browser, "browse-timestamp", str(base_ms + 12_000))
    _fill(browser, "browse-limit", "3")
    browser.find_element(By.ID, "browse-submit").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#records tbody tr"), 30, "browse results")
    rows = browser.find_elements(By.CSS_SELECTOR, "#records tbody tr[data-offset]")
    assert [r.get_attribute("data-offset") for r in rows] == ["12", "13", "14"]
    first_value = rows[0].find_element(By.CSS_SELECTOR, "td.value")
    assert "base64" in first_value.text.lower()
    assert "AAFiaW5hcnk=" in first_value.text

    # newest, filtered by value
    browser.get(url + "/topics/browse-me?browse=1&mode=newest&limit=50&value_filter=%22n%22%3A+1")
    rows = browser.find_elements(By.CSS_SELECTOR, "#records tbody tr[data-offset]")
    assert [r.get_attribute("data-offset") for r in rows] == [
        "1",
        "10",
        "11",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
    ]


def test_produce_form_writes_a_record(browser, url, broker, admin):
    _create(admin, "produce-here")
    browser.get(url + "/topics/produce-here")
    _fill(browser, "produce-key", "k1")
    _fill(browser, "produce-value", "hello from the console")
    _fill(browser, "produce-headers", "source=ui")
    browser.find_element(By.ID, "produce-submit").click()
    wait_until(lambda: "at offset 0" in live_text(browser, "#notice"), 30, "the produce notice")
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "check-produce", "auto.offset.reset": "earliest"}
    )
    try:
        consumer.assign([TopicPartition("produce-here", 0, 0)])
        msg = wait_until(lambda: consumer.poll(1.0), 30, "the produced record")
        assert msg.error() is None
        assert (msg.key(), msg.value(), msg.headers()) == (
            b"k1",
            b"hello from the console",
            [("source", b"ui")],
        )
    finally:
        consumer.close()


def test_config_edit_and_add_partitions(browser, url, admin):
    _create(admin, "tune-me")
    browser.get(url + "/topics/tune-me")
    docs = live_text(browser, "#configs tr[data-config='min.insync.replicas'] td.doc")
    assert "acks=all" in docs  # Kafka's config docs inline
    Select(browser.find_element(By.ID, "config-name")).select_by_visible_text("retention.ms")
    _fill(browser, "config-value", "7200000")
    browser.find_element(By.ID, "config-set").click()
    wait_until(lambda: "retention.ms set to 7200000" in live_text(browser, "#notice"), 30, "the notice")
    resource = ConfigResource(ResourceType.TOPIC, "tune-me")
    assert admin.describe_configs([resource])[resource].result(30)["retention.ms"].value == "7200000"
    assert live_text(browser, "#configs tr[data-config='retention.ms'] td.config-value") == "7200000"

    field = browser.find_element(By.CSS_SELECTOR, "#partitions-form input[name='total']")
    field.clear()
    field.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, "#partitions-form button").click()
    wait_until(lambda: "now has 3 partitions" in live_text(browser, "#notice"), 30, "the notice")
    assert sorted(admin.list_topics("tune-me", timeout=10).topics["tune-me"].partitions) == [0, 1, 2]


def test_delete_topic_from_the_ui(browser, url, admin):
    _create(admin, "doomed")
    browser.get(url + "/topics/doomed")
    browser.find_element(By.ID, "delete-topic").click()
    browser.switch_to.alert.accept()
    wait_until(lambda: "Topic doomed deleted" in live_text(browser, "#notice"), 30, "the notice")
    wait_until(lambda: "doomed" not in admin.list_topics(timeout=10).topics, 30, "the topic gone")


def test_group_lag_appears_and_falls_to_zero_as_the_consumer_catches_up(browser, url, broker, admin):
    _create(admin, "lagging")
    _produce(broker.bootstrap, "lagging", [{"value": f"v{i}".encode()} for i in range(30)])
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "slow-group",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe(["lagging"])
        got: list[Any] = []
        wait_until(lambda: got.extend(consumer.consume(10, 1.0)) or len(got) >= 10, 60, "10 records")
        consumer.commit(offsets=[TopicPartition("lagging", 0, 10)], asynchronous=False)
        browser.get(url + "/groups")
        wait_until(
            lambda: live_text(browser, "tr[data-group='slow-group'] td.lag") == "20", 30, "lag 20 listed"
        )
        _shot(browser, "groups")
        browser.get(url + "/groups/slow-group")
        wait_until(lambda: live_text(browser, "#total-lag") == "20", 30, "lag 20 on the group page")
        assert live_text(browser, "tr[data-tp='lagging/0'] td.lag") == "20"
        assert live_text(browser, "#group-state") == "Stable"
        # the consumer catches up; the page follows without a reload
        while len(got) < 30:
            got.extend(m for m in consumer.consume(30, 1.0) if m.error() is None)
        consumer.commit(offsets=[TopicPartition("lagging", 0, 30)], asynchronous=False)
        wait_until(lambda: live_text(browser, "#total-lag") == "0", 30, "lag 0, live")
        assert live_text(browser, "tr[data-tp='lagging/0'] td.committed") == "30"
        points = live_attr(browser, "#lag-chart polyline", "points")
        heights = [float(point.split(",")[1]) for point in points.split()]
        # sampled over time: lag 20 (the chart's top, y=0) earlier, lag 0 (its bottom, y=160) last
        assert 0.0 in heights[:-1]
        assert heights[-1] == 160.0
        _shot(browser, "group")
    finally:
        consumer.close()


def test_reset_offsets_dry_run_then_execute(browser, url, broker, admin):
    _create(admin, "rewind")
    _produce(broker.bootstrap, "rewind", [{"value": b"r"}] * 10)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rewind-group"})
    consumer.commit(offsets=[TopicPartition("rewind", 0, 8)], asynchronous=False)
    consumer.close()

    def committed() -> int:
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rewind-group"})
        try:
            return int(c.committed([TopicPartition("rewind", 0)], timeout=10)[0].offset)
        finally:
            c.close()

    browser.get(url + "/groups")
    wait_until(
        lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-group='rewind-group']"), 30, "the group"
    )
    browser.get(url + "/groups/rewind-group")
    Select(browser.find_element(By.ID, "reset-topic")).select_by_visible_text("rewind")
    Select(browser.find_element(By.ID, "reset-strategy")).select_by_value("shift")
    _fill(browser, "reset-value", "-5")
    browser.find_element(By.ID, "reset-dry-run").click()
    wait_until(lambda: live_text(browser, "tr[data-tp='rewind/0'] td.new-offset") == "3", 30, "the plan")
    _shot(browser, "reset")
    assert committed() == 8  # a dry run changes nothing
    browser.find_element(By.ID, "reset-execute").click()
    wait_until(lambda: "reset" in live_text(browser, "#notice"), 30, "the notice")
    assert committed() == 3


def test_unknown_topic_and_group_pages_say_so(browser, url):
    browser.get(url + "/topics/no-such-topic")
    assert "Topic no-such-topic not found" in live_text(browser, "h1")
    browser.get(url + "/groups/no-such-group")
    assert "Consumer group no-such-group not found" in live_text(browser, "h1")


def test_a_cross_site_form_post_is_refused(url, admin):
    request = urllib.request.Request(
        url + "/topics",
        data=b"name=from-elsewhere&partitions=1",
        headers={"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    refused.value.close()  # the error holds the response's socket: close it, not the garbage collector
    assert refused.value.code == 403
    assert "from-elsewhere" not in admin.list_topics(timeout=10).topics


def test_the_event_stream_announces_new_snapshots(url):
    with urllib.request.urlopen(url + "/events", timeout=30) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = []
        while len(events) < 2:
            line = stream.readline().decode()
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    assert events[1]["version"] > events[0]["version"]
    assert events[1]["taken_at_s"] > events[0]["taken_at_s"]


def test_sampling_keeps_its_connections_to_the_broker(url, broker):
    """Each sample sends DescribeLogDirs on the connection the last one used (and the Kafka clients keep
    theirs): over several samples the broker accepts no new connection."""
    created = "kafka_server_socket_server_metrics_connection_creation_total"
    metrics = metrics_url(broker)

    def sampled_at() -> float:
        return float(get_page(url + "/?fragment=1")[2].split('data-epoch="', 1)[1].split('"', 1)[0])

    first = sampled_at()
    wait_until(lambda: sampled_at() > first, 30, "a new sample")  # its connections are made by now
    before = scrape(metrics).value(created, listener="PLAINTEXT")
    seen = sampled_at()
    for _ in range(3):
        wait_until(lambda: sampled_at() > seen, 30, "a new sample")  # noqa: B023 (seen is re-read each round)
        seen = sampled_at()
    assert scrape(metrics).value(created, listener="PLAINTEXT") == before
