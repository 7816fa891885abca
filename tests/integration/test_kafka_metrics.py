"""Kafka's operator metrics at /metrics, checked against what a real broker was asked to do.

Requests are sent with the raw client, so their number and bytes are known exactly; consumer-group lag is
checked against the partition's high watermark and the offset a real consumer committed.
"""

from __future__ import annotations

import socket
import threading

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from brook.broker.request_metrics import PHASES
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.group_helpers import create_topics
from tests.integration.helpers import produce_all, wait_until
from tests.integration.metrics_helpers import METRICS_ON, metrics_url, scrape
from tests.integration.raw_client import RawClient, fetch_body, log_end_offset, produce_body


def produce_to(bootstrap: str, topic: str, partition: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, value=b"r%d" % i, partition=partition)
    assert producer.flush(30) == 0


@pytest.fixture
def broker(tmp_path):
    with BrookProcess(data_dir=tmp_path / "d", overrides=METRICS_ON) as b:
        yield b


def test_produce_requests_are_counted_exactly_per_api_and_version_with_every_time_phase(broker):
    url = metrics_url(broker)
    create_topics(broker.bootstrap, 1, "counted")
    before = scrape(url)
    raw = RawClient(broker.bootstrap)
    sent_bytes = sent_records = 0
    try:
        for i in range(7):
            batch = bytes(make_batch([(b"k", b"v%d" % i)] * (i + 1)))
            response = raw.request(0, 9, produce_body("counted", 0, batch))
            assert response.responses[0].partition_responses[0].error_code == 0
            sent_bytes += len(batch)
            sent_records += i + 1
    finally:
        raw.close()
    after = scrape(url)
    requests = "kafka_network_requestmetrics_requests_total"
    assert (
        after.value(requests, request="Produce", version="9")
        - before.value(requests, 0.0, request="Produce", version="9")
        == 7
    )
    for phase in PHASES:
        name = f"kafka_network_requestmetrics_{phase}_count"
        assert after.value(name, request="Produce") - before.value(name, 0.0, request="Produce") == 7, phase
        bucket = f"kafka_network_requestmetrics_{phase}_bucket"
        assert after.value(bucket, request="Produce", le="+Inf") == after.value(name, request="Produce")
    errors = "kafka_network_requestmetrics_errors_total"
    assert (
        after.value(errors, request="Produce", error="NONE")
        - before.value(errors, 0.0, request="Produce", error="NONE")
        == 7
    )
    assert after.value("kafka_server_brokertopicmetrics_bytesin_total", topic="counted") == sent_bytes
    assert after.value("kafka_server_brokertopicmetrics_messagesin_total", topic="counted") == sent_records
    assert log_end_offset(broker.bootstrap, "counted") == sent_records


def test_error_codes_in_responses_are_counted_per_api_and_error(broker):
    url = metrics_url(broker)
    create_topics(broker.bootstrap, 1, "erring")
    errors = "kafka_network_requestmetrics_errors_total"
    before = scrape(url)
    raw = RawClient(broker.bootstrap)
    try:
        batch = bytes(make_batch([(b"k", b"v")]))
        for partition, expected in ((0, 0), (7, 3), (7, 3), (0, 0)):  # 3: UNKNOWN_TOPIC_OR_PARTITION
            response = raw.request(0, 9, produce_body("erring", partition, batch))
            assert response.responses[0].partition_responses[0].error_code == expected
        asked = [{"partition_index": n, "current_leader_epoch": -1, "timestamp": -1} for n in (0, 7, 8)]
        body = {"replica_id": -1, "isolation_level": 0, "topics": [{"name": "erring", "partitions": asked}]}
        codes = [p.error_code for p in raw.request(2, 7, body).topics[0].partitions]
        assert codes == [0, 3, 3]
    finally:
        raw.close()
    after = scrape(url)

    def added(request: str, error: str) -> float:
        return after.value(errors, request=request, error=error) - before.value(
            errors, 0.0, request=request, error=error
        )

    assert added("Produce", "NONE") == 2
    assert added("Produce", "UNKNOWN_TOPIC_OR_PARTITION") == 2
    assert added("ListOffsets", "NONE") == 1
    assert added("ListOffsets", "UNKNOWN_TOPIC_OR_PARTITION") == 2


def test_throttle_time_is_the_throttle_time_responses_carried(broker):
    url = metrics_url(broker)
    create_topics(broker.bootstrap, 1, "throttled")
    raw = RawClient(broker.bootstrap, timeout_s=30)
    try:
        entity = [{"entity_type": "client-id", "entity_name": "raw"}]
        ops = [{"key": "producer_byte_rate", "value": 50_000.0, "remove": False}]
        altered = raw.request(49, 1, {"entries": [{"entity": entity, "ops": ops}], "validate_only": False})
        assert altered.entries[0].error_code == 0
        before = scrape(url)
        batch = bytes(make_batch([(b"k", b"x" * 200_000)]))
        carried: list[float] = []

        def throttled() -> bool:  # the broker reads quota configs each second: until one is throttled
            response = raw.request(0, 9, produce_body("throttled", 0, batch))
            carried.append(response.throttle_time.total_seconds() * 1000)
            return carried[-1] > 0

        wait_until(throttled, timeout_s=30)
    finally:
        raw.close()
    after = scrape(url)
    name = "kafka_network_requestmetrics_throttletimems"
    assert after.value(f"{name}_count", request="Produce") - before.value(
        f"{name}_count", request="Produce"
    ) == len(carried)
    assert after.value(f"{name}_sum", request="Produce") - before.value(
        f"{name}_sum", request="Produce"
    ) == sum(carried)


def test_a_parked_fetch_is_in_the_fetch_purgatory_and_its_wait_is_remote_time(broker):
    url = metrics_url(broker)
    create_topics(broker.bootstrap, 1, "parked")
    raw = RawClient(broker.bootstrap)
    try:
        # a long poll on an empty partition parks until a record arrives
        _, frame = raw.frame(1, 12, fetch_body("parked", 0, max_wait_ms=30_000))
        raw.send_raw(frame)
        parked = wait_until(
            lambda: (
                (s := scrape(url)).value(
                    "kafka_server_delayedoperationpurgatory_numdelayedoperations", delayedoperation="Fetch"
                )
                == 1
                and s
            )
        )
        assert (
            parked.value("kafka_server_delayedoperationpurgatory_purgatorysize", delayedoperation="Fetch")
            == 1
        )
        assert (
            parked.value(
                "kafka_server_delayedoperationpurgatory_numdelayedoperations", delayedoperation="Produce"
            )
            == 0
        )
        wait_ms = 400
        threading.Event().wait(wait_ms / 1000)  # the fetch stays parked at least this long
        produce_all(broker.bootstrap, "parked", [(None, b"wake")])
        assert raw.read_frame()  # the fetch answers with the record
    finally:
        raw.close()
    after = scrape(url)
    assert (
        after.value("kafka_server_delayedoperationpurgatory_numdelayedoperations", delayedoperation="Fetch")
        == 0
    )
    assert after.value("kafka_server_delayedoperationpurgatory_purgatorysize", delayedoperation="Fetch") == 0
    remote_ms = after.value("kafka_network_requestmetrics_remotetimems_sum", request="FetchConsumer")
    local_ms = after.value("kafka_network_requestmetrics_localtimems_sum", request="FetchConsumer")
    total_ms = after.value("kafka_network_requestmetrics_totaltimems_sum", request="FetchConsumer")
    assert after.value("kafka_network_requestmetrics_remotetimems_count", request="FetchConsumer") == 1
    assert after.value("kafka_network_requestmetrics_remotetimems_count", request="Fetch") == 1
    assert remote_ms >= wait_ms
    assert local_ms < remote_ms
    assert total_ms >= remote_ms + local_ms
    assert after.value("kafka_server_brokertopicmetrics_bytesout_total", topic="parked") > 0


def test_group_lag_is_the_high_watermark_minus_the_committed_offset(broker):
    url = metrics_url(broker)
    create_topics(broker.bootstrap, 2, "lagging")
    produce_to(broker.bootstrap, "lagging", 0, 10)
    produce_to(broker.bootstrap, "lagging", 1, 11)
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "lag-group", "enable.auto.commit": False}
    )
    try:
        consumer.commit(
            offsets=[TopicPartition("lagging", 0, 4), TopicPartition("lagging", 1, 11)], asynchronous=False
        )
        labels0 = {"consumergroup": "lag-group", "topic": "lagging", "partition": "0"}
        labels1 = {**labels0, "partition": "1"}
        s = scrape(url)
        assert s.value("kafka_cluster_partition_high_watermark", topic="lagging", partition="0") == 10
        assert s.value("kafka_consumergroup_current_offset", **labels0) == 4
        assert s.value("kafka_consumergroup_lag", **labels0) == 10 - 4
        assert s.value("kafka_consumergroup_lag", **labels1) == 0
        produce_to(broker.bootstrap, "lagging", 0, 3)
        assert scrape(url).value("kafka_consumergroup_lag", **labels0) == 13 - 4
        consumer.commit(offsets=[TopicPartition("lagging", 0, 13)], asynchronous=False)
        assert scrape(url).value("kafka_consumergroup_lag", **labels0) == 0
    finally:
        consumer.close()


def test_connections_are_counted_per_listener(broker):
    url = metrics_url(broker)
    name = "kafka_server_socket_server_metrics_connection_count"
    wait_until(lambda: scrape(url).value(name, listener="PLAINTEXT") == 0)
    created = scrape(url).value(
        "kafka_server_socket_server_metrics_connection_creation_total", listener="PLAINTEXT"
    )
    host, port = broker.bootstrap.rsplit(":", 1)
    sockets = [socket.create_connection((host, int(port)), timeout=10) for _ in range(3)]
    try:
        wait_until(lambda: scrape(url).value(name, listener="PLAINTEXT") == 3)
        assert (
            scrape(url).value(
                "kafka_server_socket_server_metrics_connection_creation_total", listener="PLAINTEXT"
            )
            == created + 3
        )
    finally:
        for s in sockets:
            s.close()
    wait_until(lambda: scrape(url).value(name, listener="PLAINTEXT") == 0)


def test_connections_are_counted_on_the_listener_they_came_in_on(tmp_path):
    overrides = {
        **METRICS_ON,
        "listeners": "PLAINTEXT://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
    }
    with BrookProcess(data_dir=tmp_path / "d", overrides=overrides) as b:
        url = metrics_url(b)
        count, created = (
            "kafka_server_socket_server_metrics_connection_count",
            "kafka_server_socket_server_metrics_connection_creation_total",
        )
        first = scrape(url)
        assert first.value(count, listener="EXTERNAL") == 0  # every listener's series from the start
        assert first.value(created, listener="EXTERNAL") == 0
        external = [
            socket.create_connection(("127.0.0.1", b.listener_ports["EXTERNAL"]), timeout=10)
            for _ in range(2)
        ]
        try:
            wait_until(lambda: scrape(url).value(count, listener="EXTERNAL") == 2)
            now = scrape(url)
            assert now.value(created, listener="EXTERNAL") == 2
            assert now.value(count, listener="PLAINTEXT") == 0
        finally:
            for s in external:
                s.close()
        wait_until(lambda: scrape(url).value(count, listener="EXTERNAL") == 0)


def test_log_flushes_are_timed(tmp_path):
    overrides = {**METRICS_ON, "log.flush.interval.messages": "1"}
    with BrookProcess(data_dir=tmp_path / "d", overrides=overrides) as b:
        url = metrics_url(b)
        assert scrape(url).value("kafka_log_logflushstats_logflushrateandtimems_count") == 0
        produce_all(b.bootstrap, "flushed", [(None, b"x")] * 3)
        s = wait_until(
            lambda: (
                (s := scrape(url)).value("kafka_log_logflushstats_logflushrateandtimems_count") >= 1 and s
            ),
            timeout_s=30,
        )
        assert s.value("kafka_log_logflushstats_logflushrateandtimems_sum") > 0


def test_partition_state_gauges_on_a_single_broker(broker):
    url = metrics_url(broker)
    create_topics(broker.bootstrap, 3, "gauges")
    s = scrape(url)
    assert s.value("kafka_server_replicamanager_partitioncount") == 3
    assert s.value("kafka_server_replicamanager_leadercount") == 3
    assert s.value("kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert s.value("kafka_server_replicamanager_underminisrpartitioncount") == 0
    assert s.value("kafka_server_replicamanager_atminisrpartitioncount") == 3  # ISR 1 = min.insync.replicas 1
    assert s.value("kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert s.value("kafka_controller_kafkacontroller_offlinepartitionscount") == 0
    assert s.value("kafka_controller_kafkacontroller_globalpartitioncount") == 3
    assert s.value("kafka_cluster_partition_underreplicated", topic="gauges", partition="2") == 0
