"""Client quotas against a real broker: AlterClientQuotas / DescribeClientQuotas, throttle_time_ms and a
muted connection, a greedy producer held to its client-id quota while another keeps its rate, fetch
quotas, and quota configs surviving a restart."""

from __future__ import annotations

import os
import statistics
import threading
import time

import pytest
from confluent_kafka import KafkaError, Producer

from brook.common.errors import ErrorCode
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.raw_client import RawClient, fetch_body, produce_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("quotas")) as process:
        raw = RawClient(process.bootstrap)
        topics = [
            {"name": name, "num_partitions": 1, "replication_factor": 1}
            for name in ("greedy", "polite", "raw")
        ]
        assert all(t.error_code == 0 for t in raw.request(19, 5, {"topics": topics, "timeout": 5000}).topics)
        raw.close()
        yield process


def alter(
    broker, entity: list[tuple[str, str | None]], ops: list[tuple[str, float, bool]], validate_only=False
):
    raw = RawClient(broker.bootstrap)
    try:
        body = {
            "entries": [
                {
                    "entity": [{"entity_type": t, "entity_name": n} for t, n in entity],
                    "ops": [{"key": k, "value": v, "remove": r} for k, v, r in ops],
                }
            ],
            "validate_only": validate_only,
        }
        return raw.request(49, 1, body).entries[0]
    finally:
        raw.close()


def describe(broker, components: list[tuple[str, int, str | None]], strict: bool = False) -> dict:
    raw = RawClient(broker.bootstrap)
    try:
        body = {
            "components": [{"entity_type": t, "match_type": m, "match": n} for t, m, n in components],
            "strict": strict,
        }
        response = raw.request(48, 1, body)
        assert response.error_code == ErrorCode.none
        return {
            tuple((e.entity_type, e.entity_name) for e in entry.entity): {
                v.key: v.value for v in entry.values
            }
            for entry in response.entries
        }
    finally:
        raw.close()


def test_alter_and_describe_client_quotas(broker):
    assert alter(broker, [("client-id", "app")], [("producer_byte_rate", 1024, False)]).error_code == 0
    assert (
        alter(broker, [("user", None), ("client-id", None)], [("consumer_byte_rate", 2048, False)]).error_code
        == 0
    )
    assert alter(broker, [("client-id", "app")], [("request_percentage", 25.5, False)]).error_code == 0
    assert describe(broker, [("client-id", 0, "app")], strict=True) == {
        (("client-id", "app"),): {"producer_byte_rate": 1024.0, "request_percentage": 25.5}
    }
    assert describe(broker, [("client-id", 1, None)]) == {
        (("user", None), ("client-id", None)): {"consumer_byte_rate": 2048.0}
    }
    assert len(describe(broker, [])) == 2
    invalid = alter(broker, [("client-id", "app")], [("bogus_rate", 1, False)])
    assert invalid.error_code == ErrorCode.invalid_request
    assert (
        alter(broker, [("ip", "1.2.3.4")], [("producer_byte_rate", 1, False)]).error_code
        == ErrorCode.invalid_request
    )
    assert (
        alter(
            broker, [("client-id", "dry")], [("producer_byte_rate", 1, False)], validate_only=True
        ).error_code
        == 0
    )
    assert describe(broker, [("client-id", 0, "dry")]) == {}
    alter(broker, [("client-id", "app")], [("producer_byte_rate", 0, True), ("request_percentage", 0, True)])
    alter(broker, [("user", None), ("client-id", None)], [("consumer_byte_rate", 0, True)])
    assert describe(broker, []) == {}


def test_a_throttled_response_carries_the_throttle_time_and_mutes_the_connection(broker):
    # 900 kB against 80 kB/s over the 10 s minimum window: (90 - 80) / 80 * 10 s = 1.25 s
    assert alter(broker, [("client-id", "raw")], [("producer_byte_rate", 80_000, False)]).error_code == 0
    time.sleep(1.5)  # every broker re-reads quota configs each second
    raw = RawClient(broker.bootstrap, timeout_s=30)
    try:
        batch = bytes(make_batch([(b"k", os.urandom(900_000 - 100))]))
        body = produce_body("raw", 0, batch)
        response = raw.request(0, 9, body)
        assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
        throttle_ms = response.throttle_time.total_seconds() * 1000
        assert 1000 <= throttle_ms <= 1500
        start = time.monotonic()
        raw.request(18, 3, {"client_software_name": "t", "client_software_version": "1"})
        assert time.monotonic() - start >= throttle_ms / 1000 - 0.2  # nothing was read while muted
    finally:
        raw.close()
        alter(broker, [("client-id", "raw")], [("producer_byte_rate", 0, True)])


def test_a_fetch_over_its_quota_is_answered_empty_with_a_throttle_time(broker):
    raw = RawClient(broker.bootstrap, timeout_s=30)
    try:
        fetch = fetch_body("raw", 0)
        assert len(raw.request(1, 11, fetch).responses[0].partitions[0].records) > 800_000
        assert alter(broker, [("client-id", None)], [("consumer_byte_rate", 10_000, False)]).error_code == 0
        time.sleep(1.5)
        # a quota window's worth (10 kB/s * 10 s) is too little for the 900 kB batch: KIP-74 sends it, the
        # quota then counts it as over the bound, so the answer is empty and throttled
        response = raw.request(1, 11, fetch)
        assert response.throttle_time.total_seconds() > 0
        assert not response.responses[0].partitions[0].records
    finally:
        raw.close()
        alter(broker, [("client-id", None)], [("consumer_byte_rate", 0, True)])


def test_request_percentage_throttles_a_client_that_keeps_the_broker_busy(broker):
    assert alter(broker, [("client-id", "raw")], [("request_percentage", 0.001, False)]).error_code == 0
    time.sleep(1.5)
    raw = RawClient(broker.bootstrap, timeout_s=30)
    try:

        def throttle_seen() -> bool:
            response = raw.request(16, 4, {"states_filter": []})  # ListGroups: answered as a kio entity
            return response.throttle_time.total_seconds() > 0

        # 0.001 % of a thread is 0.1 ms of handler time per 10 s window: a few requests go past it
        assert any(throttle_seen() for _ in range(20))
    finally:
        raw.close()
        alter(broker, [("client-id", "raw")], [("request_percentage", 0, True)])


def test_a_greedy_producer_is_held_to_its_quota_while_another_keeps_its_rate(broker):
    bound = 100_000
    assert alter(broker, [("client-id", "greedy")], [("producer_byte_rate", bound, False)]).error_code == 0
    time.sleep(1.5)
    seconds = 8.0
    acked_bytes = [0]
    greedy_errors: list[object] = []
    stop = threading.Event()

    def greedy() -> None:
        producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "greedy", "linger.ms": 5})

        def on_delivery(err, msg):
            if err and err.code() not in (KafkaError._PURGE_INFLIGHT, KafkaError._PURGE_QUEUE):
                greedy_errors.append(err)
            elif not err:
                acked_bytes[0] += len(msg.value())

        value = os.urandom(100_000)
        for _ in range(200):  # 20 MB: about a second's work without the quota
            while True:
                try:
                    producer.produce("greedy", value=value, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
            if stop.is_set():
                break
        while not stop.is_set():
            producer.poll(0.05)
        producer.purge()
        producer.flush(5)

    thread = threading.Thread(target=greedy)
    greedy_start = time.monotonic()
    thread.start()
    polite = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "polite", "linger.ms": 0})
    latencies: list[float] = []
    polite_errors: list[object] = []
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        sent_at = time.monotonic()
        polite.produce(
            "polite",
            value=os.urandom(1000),
            on_delivery=lambda err, _m, t=sent_at: (
                polite_errors.append(err) if err else latencies.append(time.monotonic() - t)
            ),
        )
        sent += 1
        polite.poll(0.02)
    assert polite.flush(30) == 0
    greedy_bytes = acked_bytes[0]
    # the greedy producer ran from its start until now (the polite flush can take a while on a loaded machine)
    greedy_seconds = time.monotonic() - greedy_start
    stop.set()
    thread.join(30)
    alter(broker, [("client-id", "greedy")], [("producer_byte_rate", 0, True)])
    assert not polite_errors
    assert not greedy_errors
    print(f"\ngreedy acked {greedy_bytes} bytes in {greedy_seconds:.1f} s under a {bound} B/s quota")  # noqa: T201
    # Kafka's windows let a burst of bound * 10 s through at once, then hold the rate at the bound.
    assert greedy_bytes <= bound * (greedy_seconds + 10) * 1.3, (greedy_bytes, greedy_seconds)
    assert len(latencies) == sent  # the polite producer kept its pace
    assert sent >= seconds * 20
    assert statistics.quantiles(latencies, n=100)[98] < 1.0


def test_quota_configs_survive_a_restart(broker):
    assert alter(broker, [("user", "ANONYMOUS")], [("request_percentage", 50, False)]).error_code == 0
    broker.restart()
    assert describe(broker, [("user", 0, "ANONYMOUS")]) == {
        (("user", "ANONYMOUS"),): {"request_percentage": 50.0}
    }
    alter(broker, [("user", "ANONYMOUS")], [("request_percentage", 0, True)])
    assert describe(broker, []) == {}
