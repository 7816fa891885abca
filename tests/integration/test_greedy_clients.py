"""One client cannot stall the others: 100 MB Produce requests, a CreateTopics for 100,000 partitions,
and Fetches far above fetch.max.bytes, each while a well-behaved producer keeps its latency.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from kio.serial import entity_reader

from brook.common.errors import ErrorCode
from brook.protocol import codec
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.helpers import consume_assigned
from tests.integration.raw_client import RawClient, fetch_body, produce_body

pytestmark = pytest.mark.integration

GREEDY_PARTITIONS = 100
GREEDY_REQUESTS = 5
GREEDY_BATCH_BYTES = 1_000_000  # one batch per partition, under message.max.bytes: 100 MB per request
# The well-behaved producer's p99 while a greedy one sends 100 MB requests. Measured 53-253 ms on the
# 2-core machine shared with other jobs (load average 7-10; one run at ~950 ms with 8 requests, when the
# kernel throttled the writes of 800 MB of dirty pages); before produce validation moved off the loop
# and appends yielded between MiBs it was 640-750 ms on a lightly loaded machine.
P99_BOUND_S = 1.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("greedy"),
        overrides={"auto.create.topics.enable": "false", "fetch.max.bytes": str(2 * 1024 * 1024)},
    ) as process:
        raw = RawClient(process.bootstrap)
        topics = [
            {"name": "steady", "num_partitions": 1, "replication_factor": 1},
            {"name": "greedy", "num_partitions": GREEDY_PARTITIONS, "replication_factor": 1},
        ]
        response = raw.request(19, 5, {"topics": topics, "timeout": 5000})
        assert [t.error_code for t in response.topics] == [ErrorCode.none] * len(topics)
        raw.close()
        yield process


def _greedy_request_frame(raw: RawClient) -> bytes:
    batch = bytes(make_batch([(b"k", os.urandom(GREEDY_BATCH_BYTES - 100))]))
    body = {
        "acks": 1,
        "timeout": 30000,
        "topic_data": [
            {
                "name": "greedy",
                "partition_data": [{"index": i, "records": batch} for i in range(GREEDY_PARTITIONS)],
            }
        ],
    }
    return raw.frame(0, 9, body)[1]


def _measure_latencies(
    bootstrap: str, count: int, start_index: int, stop: threading.Event | None = None
) -> list[float]:
    """Produce `count` records one at a time (acks=1); each record's time from produce() to its delivery."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": 1})
    latencies: list[float] = []
    errors: list[object] = []
    for i in range(start_index, start_index + count):
        sent = time.monotonic()
        done = threading.Event()

        def on_delivery(err, _msg, sent=sent, done=done):
            if err:
                errors.append(err)
            latencies.append(time.monotonic() - sent)
            done.set()

        producer.produce("steady", value=b"%d" % i, on_delivery=on_delivery)
        while not done.is_set():
            producer.poll(0.001)
        time.sleep(0.01)
        if stop is not None and stop.is_set():
            break
    assert producer.flush(30) == 0
    assert not errors
    return latencies


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def test_a_well_behaved_producer_keeps_its_latency_while_another_sends_100mb_requests(broker):
    baseline = _measure_latencies(broker.bootstrap, 100, 0)
    raw = RawClient(broker.bootstrap, timeout_s=120)
    frame = _greedy_request_frame(raw)
    assert len(frame) > 99_000_000
    greedy_done = threading.Event()
    greedy_codes: list[int] = []

    def greedy() -> None:
        try:
            for _ in range(GREEDY_REQUESTS):
                raw.send_raw(frame)
                response = raw.read_frame()
                entity, _ = entity_reader(codec.response_class(0, 9))(response, 5)  # after id + tags
                greedy_codes.extend(p.error_code for p in entity.responses[0].partition_responses)
        finally:
            greedy_done.set()

    thread = threading.Thread(target=greedy)
    thread.start()
    during = _measure_latencies(broker.bootstrap, 400, 100, stop=greedy_done)
    thread.join(300)
    raw.close()
    assert greedy_codes == [ErrorCode.none] * GREEDY_REQUESTS * GREEDY_PARTITIONS
    assert len(during) >= 30, "the greedy producer finished before the measurement had samples"
    print(  # noqa: T201 - the figure this test exists for; visible with -s
        f"\nwell-behaved p50/p99: baseline {statistics.median(baseline) * 1000:.1f}/{_p99(baseline) * 1000:.1f} ms, "
        f"during 100 MB requests {statistics.median(during) * 1000:.1f}/{_p99(during) * 1000:.1f} ms "
        f"({len(during)} samples)"
    )
    assert _p99(during) < P99_BOUND_S
    messages = consume_assigned(broker.bootstrap, "steady", 0, 100 + len(during), timeout_s=60)
    assert [int(m.value()) for m in messages] == list(range(100 + len(during)))


def test_create_topics_with_100000_partitions_is_a_policy_violation(broker):
    raw = RawClient(broker.bootstrap)
    response = raw.request(
        19,
        5,
        {"topics": [{"name": "huge", "num_partitions": 100_000, "replication_factor": 1}], "timeout": 5000},
    )
    assert response.topics[0].error_code == ErrorCode.policy_violation
    response = raw.request(3, 9, {"topics": [{"name": "huge"}], "allow_auto_topic_creation": False})
    assert response.topics[0].error_code == ErrorCode.unknown_topic_or_partition
    raw.close()


def test_one_fetch_reads_at_most_fetch_max_bytes_whatever_it_asks(broker):
    raw = RawClient(broker.bootstrap, timeout_s=60)
    batch = bytes(make_batch([(b"k", os.urandom(500_000))]))
    for _ in range(10):
        body = produce_body("greedy", 7, batch)
        assert raw.request(0, 9, body).responses[0].partition_responses[0].error_code == ErrorCode.none
    fetch = fetch_body("greedy", 7)
    response = raw.request(1, 11, fetch)
    records = response.responses[0].partitions[0].records
    # fetch.max.bytes is 2 MiB on this broker: whole batches up to it (KIP-74), never the 5 MB asked for
    assert len(batch) <= len(records) <= 2 * 1024 * 1024
    raw.close()


def test_a_client_that_never_reads_its_fetches_does_not_hold_the_broker(broker):
    """60 pipelined 2 MiB fetches that are never read: the broker holds about one response, not 60, and
    keeps answering others."""
    raw = RawClient(broker.bootstrap)
    batch = bytes(make_batch([(b"k", os.urandom(500_000))]))
    for _ in range(5):
        body = produce_body("greedy", 8, batch)
        assert raw.request(0, 9, body).responses[0].partition_responses[0].error_code == ErrorCode.none
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fetch = fetch_body("greedy", 8)
    rss_before = _rss_bytes(broker)
    raw.send_raw(b"".join(raw.frame(1, 11, fetch)[1] for _ in range(60)))
    deadline = time.monotonic() + 5
    latencies: list[float] = []
    while time.monotonic() < deadline:
        latencies.extend(_measure_latencies(broker.bootstrap, 5, 10_000 + len(latencies)))
    grown = _rss_bytes(broker) - rss_before
    print(f"\nRSS grew {grown / 2**20:.1f} MiB with 60 unread 2 MiB fetches")  # noqa: T201
    assert grown < 40 * 2**20  # 60 responses held would be 120 MiB
    assert max(latencies) < 2.0
    assert broker.process.poll() is None
    raw.close()


def _rss_bytes(broker) -> int:
    for line in Path(f"/proc/{broker.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def default_broker(tmp_path_factory):
    """Kafka's defaults (fetch.max.bytes 55 MiB): a 50 MB fetch is allowed here."""
    with BrookProcess(data_dir=tmp_path_factory.mktemp("greedy-fetch")) as process:
        raw = RawClient(process.bootstrap)
        topics = [
            {"name": "steady", "num_partitions": 1, "replication_factor": 1},
            {"name": "big", "num_partitions": 1, "replication_factor": 1},
        ]
        assert all(t.error_code == 0 for t in raw.request(19, 5, {"topics": topics, "timeout": 5000}).topics)
        raw.close()
        yield process


def test_a_well_behaved_producer_keeps_its_latency_while_another_client_fetches_50mb(default_broker):
    raw = RawClient(default_broker.bootstrap, timeout_s=120)
    batch = bytes(make_batch([(b"k", os.urandom(GREEDY_BATCH_BYTES - 100))]))
    body = produce_body("big", 0, batch, timeout_ms=30000)
    for _ in range(50):
        assert raw.request(0, 9, body).responses[0].partition_responses[0].error_code == ErrorCode.none
    fetch = fetch_body("big", 0)
    baseline = _measure_latencies(default_broker.bootstrap, 100, 0)
    fetched: list[int] = []
    done = threading.Event()

    def greedy() -> None:
        try:
            for _ in range(6):
                response = raw.request(1, 11, fetch)
                fetched.append(len(response.responses[0].partitions[0].records))
        finally:
            done.set()

    thread = threading.Thread(target=greedy)
    thread.start()
    during = _measure_latencies(default_broker.bootstrap, 400, 100, stop=done)
    thread.join(300)
    raw.close()
    assert fetched == [len(batch) * 50] * 6
    print(  # noqa: T201 - the figure this test exists for; visible with -s
        f"\nwell-behaved p50/p99: baseline {statistics.median(baseline) * 1000:.1f}/{_p99(baseline) * 1000:.1f} ms, "
        f"during 50 MB fetches {statistics.median(during) * 1000:.1f}/{_p99(during) * 1000:.1f} ms ({len(during)} samples)"
    )
    assert len(during) >= 20
    assert _p99(during) < P99_BOUND_S
