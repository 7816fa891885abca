"""The console's pages on a broker with 1,000 partitions (one topic, and a group committed on all of them):
each page answers within 200 ms. The pages render from the sampler's newest snapshot, so this measures the
console's own work (rendering the 1,000-row tables), not a round trip to the cluster."""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Iterator

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing.broker_process import BrookProcess
from tests.console.conftest import console_url, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_PARTITIONS = 1000
_GOAL_MS = 200.0
_ROUNDS = 15


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrookProcess, str]]:
    process = BrookProcess(
        data_dir=tmp_path_factory.mktemp("console-scale"),
        startup_timeout_s=60.0,
        overrides={"brook.console.port": "0", "offsets.topic.num.partitions": "1"},
    )
    process.start()
    try:
        yield process, console_url(lambda: list(process.output))
    finally:
        process.stop()


def _get(url: str) -> tuple[int, float, str]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read().decode()
        return response.status, (time.perf_counter() - started) * 1000, body


def test_pages_answer_within_200_ms_with_1000_partitions(broker):
    broker, url = broker
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("wide", _PARTITIONS, 1)], operation_timeout=60)["wide"].result(120)
    offsets = [TopicPartition("wide", p, 0) for p in range(_PARTITIONS)]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("wide-group", offsets)])[
        "wide-group"
    ].result(60)

    def sampled() -> bool:
        _, _, body = _get(url + "/groups/wide-group")
        return body.count('data-tp="wide/') == _PARTITIONS

    wait_until(sampled, 60, "the console's snapshot with all 1,000 partitions and the group")
    pages = ["/", "/topics", "/topics/wide", "/topics/wide?fragment=1", "/groups", "/groups/wide-group"]
    figures = {}
    for page in pages:
        times = []
        for _ in range(_ROUNDS):
            status, took_ms, body = _get(url + page)
            assert status == 200
            times.append(took_ms)
        if page == "/topics/wide":
            assert body.count('data-partition="') == _PARTITIONS
        figures[page] = (min(times), statistics.median(times), max(times))
    shown = ", ".join(f"{p} {mn:.0f}/{md:.0f}/{mx:.0f}" for p, (mn, md, mx) in figures.items())
    print(f"\nconsole page ms (min/median/max of {_ROUNDS}) with {_PARTITIONS} partitions: {shown}")  # noqa: T201
    slow = {p: f for p, f in figures.items() if f[1] > _GOAL_MS}
    assert not slow, f"pages whose median is over {_GOAL_MS} ms: {slow}"
