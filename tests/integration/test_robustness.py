"""Bad input over raw sockets: the right error code or a closed connection, and nothing else changes.

A producer runs in parallel through every case; all its records must arrive intact.
"""

from __future__ import annotations

import struct
import threading

import pytest
from confluent_kafka import Producer

from brook.common.errors import ErrorCode
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.helpers import consume_assigned
from tests.integration.raw_client import RawClient, log_end_offset


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("robust"),
        overrides={"socket.request.max.bytes": str(1024 * 1024), "auto.create.topics.enable": "false"},
    ) as process:
        yield process


@pytest.fixture(scope="module", autouse=True)
def steady_producer(broker):
    """Produces numbered records during the whole module; checked at the end."""
    raw = RawClient(broker.bootstrap)
    raw.request(
        19, 5, {"topics": [{"name": "steady", "num_partitions": 1, "replication_factor": 1}], "timeout": 5000}
    )
    target = {
        "name": "target",
        "num_partitions": 1,
        "replication_factor": 1,
        "configs": [{"name": "max.message.bytes", "value": "100000"}],
    }
    raw.request(19, 5, {"topics": [target], "timeout": 5000})
    raw.close()
    stop = threading.Event()
    sent: list[int] = []
    errors: list[object] = []

    def run() -> None:
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 1, "acks": "all"})
        i = 0
        while not stop.is_set():
            producer.produce(
                "steady", value=b"%d" % i, on_delivery=lambda err, _m: err and errors.append(err)
            )
            sent.append(i)
            i += 1
            producer.poll(0.01)
        assert producer.flush(20) == 0

    thread = threading.Thread(target=run)
    thread.start()
    yield
    stop.set()
    thread.join(30)
    assert not errors
    messages = consume_assigned(broker.bootstrap, "steady", 0, len(sent))
    assert [int(m.value()) for m in messages] == sent


def _produce_body(topic: str, records: bytes, acks: int = 1) -> dict:
    return {
        "acks": acks,
        "timeout": 5000,
        "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": records}]}],
    }


def _with_bad_crc(batch: bytes) -> bytes:
    spoiled = bytearray(batch)
    spoiled[-1] ^= 0xFF  # a record byte the CRC covers
    return bytes(spoiled)


def _partition_error(response) -> int:
    return response.responses[0].partition_responses[0].error_code


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">i", 2 * 1024 * 1024) + b"x" * 100,
        struct.pack(">i", -1),
        struct.pack(">ihhih", 10, 12345, 0, 1, 0),
        struct.pack(">i", 14) + struct.pack(">hhih", 3, 9, 1, 0) + b"\xff\xff\xff\xff",
    ],
    ids=["over-socket-request-max-bytes", "negative-length", "unknown-api-key", "undecodable-request"],
)
def test_bad_frames_close_only_that_connection(broker, data):
    raw = RawClient(broker.bootstrap)
    raw.send_raw(data)
    assert raw.is_closed_by_peer()
    raw.close()
    other = RawClient(broker.bootstrap)
    assert (
        other.request(18, 3, {"client_software_name": "t", "client_software_version": "1"}).error_code
        == ErrorCode.none
    )
    other.close()


def test_bad_crc_is_corrupt_message_and_nothing_is_appended(broker):
    before = log_end_offset(broker.bootstrap, "target")
    raw = RawClient(broker.bootstrap)
    response = raw.request(0, 7, _produce_body("target", _with_bad_crc(make_batch([(b"k", b"v")]))))
    raw.close()
    assert _partition_error(response) == ErrorCode.corrupt_message
    assert log_end_offset(broker.bootstrap, "target") == before


def test_batch_over_max_message_bytes_is_message_too_large(broker):
    before = log_end_offset(broker.bootstrap, "target")
    batch = make_batch([(b"k", b"x" * 200_000)])
    raw = RawClient(broker.bootstrap)
    response = raw.request(0, 7, _produce_body("target", batch))
    raw.close()
    assert _partition_error(response) == ErrorCode.message_too_large
    assert log_end_offset(broker.bootstrap, "target") == before


@pytest.mark.parametrize("topic", ["bad/name", "x" * 250, ".."])
def test_invalid_topic_name_is_invalid_topic_exception(broker, topic):
    raw = RawClient(broker.bootstrap)
    response = raw.request(3, 9, {"topics": [{"name": topic}], "allow_auto_topic_creation": True})
    raw.close()
    assert response.topics[0].error_code == ErrorCode.invalid_topic_exception


@pytest.mark.parametrize(
    ("topic", "records"),
    [
        ("missing", make_batch([(None, b"v")])),  # UNKNOWN_TOPIC_OR_PARTITION
        ("target", _with_bad_crc(make_batch([(b"k", b"v")]))),  # CORRUPT_MESSAGE
        ("__consumer_offsets", make_batch([(None, b"v")])),  # INVALID_TOPIC_EXCEPTION: internal
    ],
    ids=["unknown-topic", "corrupt-batch", "internal-topic"],
)
def test_an_acks_0_producer_that_gets_an_error_has_its_connection_closed(broker, topic, records):
    # An acks=0 producer gets no response, so Kafka closes its connection on any partition error (KafkaApis);
    # the client sees the close and refreshes its metadata. Nothing is appended.
    before = log_end_offset(broker.bootstrap, "target")
    raw = RawClient(broker.bootstrap)
    try:
        _, frame = raw.frame(0, 9, _produce_body(topic, records, acks=0))
        raw.send_raw(frame)
        assert raw.is_closed_by_peer(timeout_s=15)
    finally:
        raw.close()
    assert log_end_offset(broker.bootstrap, "target") == before
    assert broker.wait_for_log(r"closing connection of an acks=0 producer .* after errors: " + topic)


def test_an_acks_0_producer_without_errors_keeps_its_connection(broker):
    before = log_end_offset(broker.bootstrap, "target")
    raw = RawClient(broker.bootstrap)
    try:
        for i in range(3):
            _, frame = raw.frame(0, 9, _produce_body("target", make_batch([(None, b"%d" % i)]), acks=0))
            raw.send_raw(frame)
        assert not raw.is_closed_by_peer(timeout_s=1)
        assert (
            raw.request(18, 3, {"client_software_name": "t", "client_software_version": "1"}).error_code == 0
        )
    finally:
        raw.close()
    assert log_end_offset(broker.bootstrap, "target") == before + 3


def test_produce_to_missing_topic_without_auto_create_is_unknown_topic(broker):
    raw = RawClient(broker.bootstrap)
    response = raw.request(0, 7, _produce_body("missing", make_batch([(None, b"v")])))
    raw.close()
    assert _partition_error(response) == ErrorCode.unknown_topic_or_partition


def test_old_produce_version_with_an_empty_message_set_gets_an_answer(broker):
    """Produce v2 (message sets, tests/integration/test_old_versions.py) with no message at all."""
    raw = RawClient(broker.bootstrap)
    body = (
        struct.pack(">hii", 1, 5000, 1)
        + struct.pack(">h", 6)
        + b"target"
        + struct.pack(">ii", 1, 0)
        + struct.pack(">i", 0)
    )
    correlation_id, frame = raw.frame(0, 2, body)
    raw.send_raw(frame)
    response = raw.read_frame()
    assert not raw.is_closed_by_peer(timeout_s=0.5)
    raw.close()
    assert struct.unpack_from(">i", response)[0] == correlation_id
    # [topics: name, [partition, error_code, base_offset, log_append_time]], throttle
    topic_len = struct.unpack_from(">h", response, 8)[0]
    partition, error_code = struct.unpack_from(">ih", response, 10 + topic_len + 4)
    assert partition == 0
    assert error_code != ErrorCode.unknown_server_error


def test_unknown_api_versions_version_gets_v0_answer_with_the_list(broker):
    raw = RawClient(broker.bootstrap)
    header = struct.pack(">hhih", 18, 99, 5, 0)
    raw.send_raw(struct.pack(">i", len(header)) + header)
    response = raw.read_frame()
    raw.close()
    correlation_id, error_code, count = struct.unpack_from(">ihi", response)
    assert (correlation_id, error_code) == (5, ErrorCode.unsupported_version)
    keys = {struct.unpack_from(">h", response, 10 + 6 * i)[0] for i in range(count)}
    assert {0, 1, 3, 18} <= keys
