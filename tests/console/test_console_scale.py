"""The console's pages on a broker with 1,000 partitions (one topic, and a group committed on all of them):
every page answers and shows every partition. How fast they answer is measured in bench/console_bench.py
(part of `make bench`), not here: a time limit in a test measures the machine's load as much as the console."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing.broker_process import BrookProcess
from tests.console.conftest import console_url, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_PARTITIONS = 1000


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
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode()
            return response.status, (time.perf_counter() - started) * 1000, body
    except urllib.error.HTTPError as error:  # a page not ready yet: the error holds the response's socket
        error.close()
        raise


def test_every_page_answers_with_1000_partitions(broker):
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
    for page in pages:
        status, _, body = _get(url + page)
        assert status == 200
        if page == "/topics/wide":
            assert body.count('data-partition="') == _PARTITIONS
        if page == "/groups/wide-group":
            assert body.count('data-tp="wide/') == _PARTITIONS
