"""Transactions on the log side, driven with raw frames as a transaction coordinator would drive them:
transactional batches, WriteTxnMarkers (API 27), the last stable offset and read_committed fetches
seen by a real confluent-kafka consumer."""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.common.errors import ErrorCode
from brook.records.records import Record, build_batch
from brook.testing import BrookProcess
from tests.integration.raw_client import RawClient, produce_body
from tests.integration.txn_raw import init_producer_id, list_offset, produce_txn, write_markers


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("txn")) as process:
        yield process


_counter = iter(range(1000))


def _topic(broker: BrookProcess, partitions: int = 1) -> str:
    name = f"txn-{next(_counter)}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(10)
    return name


def consume_values(
    bootstrap: str, topic: str, isolation: str, *, until: int, partition: int = 0, timeout_s: float = 20.0
) -> list[bytes]:
    """Every value a consumer with `isolation.level=isolation` reads from offset 0 until its position
    reaches `until` (the consumer skips control records and, read_committed, aborted ones)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-reader",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    tp = TopicPartition(topic, partition, 0)
    consumer.assign([tp])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None:
                assert msg.error() is None, msg.error()
                values.append(msg.value())
            position = consumer.position([TopicPartition(topic, partition)])[0].offset
            if position >= until:
                return values
        raise AssertionError(f"position stayed below {until}; read {values}")
    finally:
        consumer.close()


def _plain(values: list[bytes]) -> bytes:
    records = [Record(i, int(time.time() * 1000), None, v) for i, v in enumerate(values)]
    return bytes(build_batch(records, base_offset=0))


def _produce_plain(raw: RawClient, topic: str, values: list[bytes]) -> Any:
    response = raw.request(0, 8, produce_body(topic, 0, _plain(values), acks=-1))
    return response.responses[0].partition_responses[0]


def test_commit_visible_abort_hidden_open_invisible_until_commit(broker, raw):
    topic = _topic(broker)
    pid, epoch = init_producer_id(raw)
    other, other_epoch = init_producer_id(raw)
    assert produce_txn(raw, topic, 0, pid, epoch, 0, [b"aborted-1", b"aborted-2"]).error_code == 0  # 0-1
    assert _produce_plain(raw, topic, [b"plain-1"]).error_code == 0  # 2
    assert write_markers(raw, pid, epoch, False, {topic: [0]}) == {(topic, 0): ErrorCode.none}  # 3
    assert produce_txn(raw, topic, 0, pid, epoch, 2, [b"committed-1"]).error_code == 0  # 4
    assert produce_txn(raw, topic, 0, other, other_epoch, 0, [b"open-1"]).error_code == 0  # 5
    assert write_markers(raw, pid, epoch, True, {topic: [0]}) == {(topic, 0): ErrorCode.none}  # 6
    assert _produce_plain(raw, topic, [b"plain-2"]).error_code == 0  # 7

    # the open transaction at 5 holds the last stable offset back; read_uncommitted sees up to the HW
    assert list_offset(raw, topic, 0, isolation_level=1) == 5
    assert list_offset(raw, topic, 0, isolation_level=0) == 8
    everything = [b"aborted-1", b"aborted-2", b"plain-1", b"committed-1", b"open-1", b"plain-2"]
    assert consume_values(broker.bootstrap, topic, "read_uncommitted", until=8) == everything
    assert consume_values(broker.bootstrap, topic, "read_committed", until=5) == [b"plain-1", b"committed-1"]

    assert write_markers(raw, other, other_epoch, True, {topic: [0]}) == {(topic, 0): ErrorCode.none}  # 8
    assert list_offset(raw, topic, 0, isolation_level=1) == 9
    committed = consume_values(broker.bootstrap, topic, "read_committed", until=9)
    assert committed == [b"plain-1", b"committed-1", b"open-1", b"plain-2"]


def test_read_committed_fetch_returns_aborted_transactions_and_stops_at_the_lso(broker, raw):
    topic = _topic(broker)
    pid, epoch = init_producer_id(raw)
    open_pid, open_epoch = init_producer_id(raw)
    produce_txn(raw, topic, 0, pid, epoch, 0, [b"a", b"b"])  # 0-1
    write_markers(raw, pid, epoch, False, {topic: [0]})  # 2
    produce_txn(raw, topic, 0, open_pid, open_epoch, 0, [b"open"])  # 3, stays open
    _produce_plain(raw, topic, [b"after"])  # 4
    body = {
        "replica_id": -1,
        "max_wait": 100,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": 1,
        "topics": [
            {
                "topic": topic,
                "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}],
            }
        ],
    }
    for version in (4, 11, 12):
        p = raw.request(1, version, body).responses[0].partitions[0]
        assert (p.error_code, p.high_watermark, p.last_stable_offset) == (0, 5, 3)
        assert [(t.producer_id, t.first_offset) for t in p.aborted_transactions] == [(pid, 0)]
        assert _last_offset(p.records) == 2  # the batches below the LSO only: data 0-1 and the marker
    body["isolation_level"] = 0
    p = raw.request(1, 12, body).responses[0].partitions[0]
    assert (p.last_stable_offset, list(p.aborted_transactions or ())) == (3, [])
    assert _last_offset(p.records) == 4


def _last_offset(records: bytes) -> int:
    pos, last = 0, -1
    while pos < len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        (delta,) = struct.unpack_from(">i", records, pos + 23)
        last = base + delta
        pos += 12 + length
    return last


def test_write_txn_markers_errors(broker, raw):
    topic = _topic(broker, partitions=2)
    pid, epoch = init_producer_id(raw)
    produce_txn(raw, topic, 0, pid, epoch, 0, [b"x"])
    missing = write_markers(raw, pid, epoch, True, {topic: [0, 7], "no-such-topic": [0]}, coordinator_epoch=3)
    assert missing == {
        (topic, 0): ErrorCode.none,
        (topic, 7): ErrorCode.unknown_topic_or_partition,
        ("no-such-topic", 0): ErrorCode.unknown_topic_or_partition,
    }
    # an older coordinator epoch is a zombie coordinator; an older producer epoch a fenced producer
    assert write_markers(raw, pid, epoch, False, {topic: [0]}, coordinator_epoch=2) == {
        (topic, 0): ErrorCode.transaction_coordinator_fenced
    }
    assert write_markers(raw, pid, epoch + 1, False, {topic: [0]}, coordinator_epoch=3) == {
        (topic, 0): ErrorCode.none
    }
    assert write_markers(raw, pid, epoch, True, {topic: [0]}, coordinator_epoch=3) == {
        (topic, 0): ErrorCode.invalid_producer_epoch
    }
    # a transactional produce of the fenced epoch is refused too
    assert (
        produce_txn(raw, topic, 0, pid, epoch, 1, [b"zombie"]).error_code == ErrorCode.invalid_producer_epoch
    )


def test_write_txn_markers_v0_frame(broker, raw):
    """v0 is the classic encoding kio lacks: a hand-made frame, answered in v0's layout."""
    topic = _topic(broker)
    pid, epoch = init_producer_id(raw)
    produce_txn(raw, topic, 0, pid, epoch, 0, [b"v0"])
    name = topic.encode()
    body = (
        struct.pack(">iqh?", 1, pid, epoch, True)
        + struct.pack(">ih", 1, len(name))
        + name
        + struct.pack(">ii", 1, 0)
        + struct.pack(">i", 0)
    )
    correlation_id, frame = raw.frame(27, 0, body)
    raw.send_raw(frame)
    response = raw.read_frame()
    expected = (
        struct.pack(">iiqih", correlation_id, 1, pid, 1, len(name)) + name + struct.pack(">iih", 1, 0, 0)
    )
    assert response == expected
    assert list_offset(raw, topic, 0, isolation_level=1) == 2


def test_clients_may_not_write_control_batches_nor_leave_a_transaction(broker, raw):
    topic = _topic(broker)
    pid, epoch = init_producer_id(raw)
    control = build_batch(
        [Record(0, int(time.time() * 1000), b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00")],
        base_offset=0,
        attributes=0x30,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=0,
    )
    response = raw.request(0, 8, produce_body(topic, 0, bytes(control), acks=-1))
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.invalid_record
    # a producer with an open transaction may not write outside it (Kafka's INVALID_TXN_STATE)
    assert produce_txn(raw, topic, 0, pid, epoch, 0, [b"in-txn"]).error_code == 0
    idempotent = build_batch(
        [Record(0, int(time.time() * 1000), None, b"outside")],
        base_offset=0,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=1,
    )
    response = raw.request(0, 8, produce_body(topic, 0, bytes(idempotent), acks=-1))
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.invalid_txn_state
    assert list_offset(raw, topic, 0, isolation_level=0) == 1


@pytest.mark.parametrize("how", ["sigkill-without-txnindex", "clean-stop"])
def test_restart_keeps_aborted_hidden_and_open_transactions_open(tmp_path, how):
    """After SIGKILL (the .txnindex files deleted too) the partition replays its log: producer state,
    open transactions and the aborted-transaction index come back; after a clean stop the producer
    snapshot and the index files are used as they are."""
    with BrookProcess(data_dir=tmp_path / "d") as broker:
        topic = _topic(broker)
        raw = RawClient(broker.bootstrap)
        aborter, a_epoch = init_producer_id(raw)
        committer, c_epoch = init_producer_id(raw)
        opener, o_epoch = init_producer_id(raw)
        produce_txn(raw, topic, 0, aborter, a_epoch, 0, [b"aborted"])  # 0
        produce_txn(raw, topic, 0, committer, c_epoch, 0, [b"committed"])  # 1
        write_markers(raw, aborter, a_epoch, False, {topic: [0]}, coordinator_epoch=4)  # 2
        write_markers(raw, committer, c_epoch, True, {topic: [0]})  # 3
        produce_txn(raw, topic, 0, opener, o_epoch, 0, [b"open"])  # 4
        raw.close()
        index_files = list((tmp_path / "d").rglob("*.txnindex"))
        assert len(index_files) == 1
        assert index_files[0].stat().st_size == 34
        if how == "clean-stop":
            assert broker.stop() == 0
        else:
            broker.kill()
            for path in index_files:
                path.unlink()
        broker.start()
        raw = RawClient(broker.bootstrap)
        try:
            assert list_offset(raw, topic, 0, isolation_level=1) == 4  # the open transaction holds the LSO
            assert consume_values(broker.bootstrap, topic, "read_committed", until=4) == [b"committed"]
            assert index_files[0].stat().st_size == 34  # rebuilt by the replay (or kept)
            # the rebuilt state still knows the aborter's coordinator epoch and the opener's sequence
            assert write_markers(raw, aborter, a_epoch, False, {topic: [0]}, coordinator_epoch=3) == {
                (topic, 0): ErrorCode.transaction_coordinator_fenced
            }
            assert produce_txn(raw, topic, 0, opener, o_epoch, 1, [b"open-2"]).error_code == 0  # 5
            assert write_markers(raw, opener, o_epoch, True, {topic: [0]}) == {
                (topic, 0): ErrorCode.none
            }  # 6
            assert list_offset(raw, topic, 0, isolation_level=1) == 7
            values = consume_values(broker.bootstrap, topic, "read_committed", until=7)
            assert values == [b"committed", b"open", b"open-2"]
        finally:
            raw.close()


def test_describe_producers_reports_open_transactions(broker, raw):
    topic = _topic(broker)
    pid, epoch = init_producer_id(raw)
    done, done_epoch = init_producer_id(raw)
    produce_txn(raw, topic, 0, done, done_epoch, 0, [b"a", b"b"])  # 0-1
    write_markers(raw, done, done_epoch, True, {topic: [0]}, coordinator_epoch=6)  # 2
    produce_txn(raw, topic, 0, pid, epoch, 0, [b"c", b"d", b"e"])  # 3-5, open
    body = {"topics": [{"name": topic, "partition_indexes": [0, 9]}]}
    response = raw.request(61, 0, body)
    [found, missing] = response.topics[0].partitions
    assert (missing.partition_index, missing.error_code) == (9, ErrorCode.unknown_topic_or_partition)
    assert found.error_code == ErrorCode.none
    states = {
        p.producer_id: (p.producer_epoch, p.last_sequence, p.coordinator_epoch, p.current_txn_start_offset)
        for p in found.active_producers
    }
    assert states == {done: (done_epoch, 1, 6, -1), pid: (epoch, 2, -1, 3)}
    assert all(p.last_timestamp > 0 for p in found.active_producers)
