"""The Java producer (kafka-clients 4.4.0 and 3.9.2) against a real brook: idempotence with every codec, batches brook
recompresses, records over the size limit, a broker restart in the middle of a stream."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from brook.testing import BrookProcess
from tests.integration.java.helpers import (
    CODECS,
    by_partition,
    create_topic,
    open_consumer,
    read,
    records_for,
    stored_batches,
)


@pytest.mark.parametrize("codec", CODECS)
def test_idempotent_producer_every_codec_read_back_by_java_and_librdkafka(java, broker, names, codec):
    topic = names(f"codec-{codec}")
    create_topic(java, topic, 3)
    sent = records_for(topic, 40, codec)
    producer = {
        "bootstrap.servers": broker.bootstrap,
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": codec,
        "linger.ms": "20",
        "max.in.flight.requests.per.connection": "5",
    }
    acked = java.call("produce", config=producer, topic=topic, records=sent)
    assert not [m for m in acked if "error" in m]
    # A key always lands on the same partition (murmur2), and offsets are consecutive per partition in send order.
    expected: dict[int, list[tuple[Any, ...]]] = {}
    partition_of_key: dict[str, int] = {}
    for record, meta in zip(sent, acked, strict=True):
        if record["key"] is not None:
            assert partition_of_key.setdefault(record["key"], meta["partition"]) == meta["partition"]
        rows = expected.setdefault(meta["partition"], [])
        assert meta["offset"] == len(rows)
        headers = [tuple(h) for h in record["headers"]]
        rows.append((meta["offset"], record["key"], record["value"], headers))

    # brook keeps the batches as the producer wrote them: compressed with the codec, idempotent (a producer id,
    # sequences starting at 0 and following on batch after batch).
    for partition in expected:
        headers = stored_batches(broker, topic, partition)
        assert {h.compression for h in headers} == {CODECS.index(codec)}
        assert len({h.producer_id for h in headers}) == 1
        assert headers[0].producer_id >= 0
        assert [h.base_sequence for h in headers] == [h.base_offset for h in headers]

    # The Java consumer reads back every record, in order, with its key, value, headers and offset.
    # (read_committed: without transactions the last stable offset is the high watermark)
    committed_only = {"isolation.level": "read_committed"}
    reader = open_consumer(
        java, broker, names("reader"), assign=[[topic, p] for p in range(3)], **committed_only
    )
    try:
        got = by_partition(read(java, reader, len(sent)))
    finally:
        java.call("consumer_close", name=reader)
    assert {
        p: [(r["offset"], r["key"], r["value"], [tuple(h) for h in r["headers"]]) for r in rows]
        for p, rows in got.items()
    } == expected

    # So does librdkafka (confluent-kafka).
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": names("rdk"), "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    rdk: dict[int, list[tuple[Any, ...]]] = {}
    deadline = time.monotonic() + 30
    try:
        while sum(len(v) for v in rdk.values()) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            key = None if msg.key() is None else msg.key().decode()
            headers = [(k, None if v is None else v.decode()) for k, v in msg.headers() or []]
            rdk.setdefault(msg.partition(), []).append((msg.offset(), key, msg.value().decode(), headers))
    finally:
        consumer.close()
    assert rdk == expected


@pytest.mark.parametrize(
    ("sent_as", "stored_as"), [("gzip", "lz4"), ("lz4", "snappy"), ("none", "zstd"), ("zstd", "gzip")]
)
def test_topic_compression_type_recompresses_what_the_java_producer_sent(
    java, broker, names, sent_as, stored_as
):
    """A topic's compression.type decides how brook stores batches, whatever the producer used: every codec brook
    writes itself is read back by the Java consumer."""
    topic = names(f"recompress-{stored_as}")
    create_topic(java, topic, 1, **{"compression.type": stored_as})
    sent = records_for(topic, 30, "re")
    config = {"bootstrap.servers": broker.bootstrap, "compression.type": sent_as, "linger.ms": "20"}
    acked = java.call("produce", config=config, topic=topic, records=[{**r, "partition": 0} for r in sent])
    assert [m.get("offset") for m in acked] == list(range(30))
    headers = stored_batches(broker, topic, 0)
    assert {h.compression for h in headers} == {CODECS.index(stored_as)}
    assert next(h.base_offset for h in headers) == 0
    assert headers[-1].base_offset + headers[-1].last_offset_delta == 29
    reader = open_consumer(java, broker, names("re-reader"), assign=[[topic, 0]])
    try:
        got = read(java, reader, 30)
    finally:
        java.call("consumer_close", name=reader)
    assert [(r["offset"], r["key"], r["value"], [tuple(h) for h in r["headers"]]) for r in got] == [
        (i, r["key"], r["value"], [tuple(h) for h in r["headers"]]) for i, r in enumerate(sent)
    ]


def test_a_record_over_max_message_bytes_is_record_too_large(java, broker, names):
    """The broker refuses a batch over max.message.bytes with MESSAGE_TOO_LARGE: the Java producer reports
    RecordTooLargeException for that record, and the records around it are written."""
    topic = names("too-large")
    create_topic(java, topic, 1, **{"max.message.bytes": "100000"})
    config = {
        "bootstrap.servers": broker.bootstrap,
        "max.request.size": "1048576",
        "linger.ms": "0",
        "max.in.flight.requests.per.connection": "1",
    }
    records = [
        {"partition": 0, "key": "a", "value": "small"},
        {"partition": 0, "key": "b", "value": "x" * 200_000},
        {"partition": 0, "key": "c", "value": "small again"},
    ]
    acked = java.call("produce", config=config, topic=topic, records=records)
    assert acked[1]["error"]["type"] == "RecordTooLargeException"
    assert [m.get("offset") for m in (acked[0], acked[2])] == [0, 1]


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_idempotent_producer_across_a_broker_restart_writes_each_record_once(java, names, tmp_path, crash):
    """The broker restarts (or is killed) while the producer sends: it retries what had no answer, and the
    restarted broker, which rebuilt its producer state, keeps every record exactly once and in order."""
    topic = names("restart")
    with BrookProcess(data_dir=tmp_path / "brook") as own:
        config = {
            "bootstrap.servers": own.bootstrap,
            "acks": "all",
            "enable.idempotence": "true",
            "linger.ms": "0",
            "reconnect.backoff.max.ms": "200",
            "retry.backoff.ms": "50",
            "retry.backoff.max.ms": "200",
        }
        records = [{"partition": 0, "key": f"k{i}", "value": f"v{i}"} for i in range(120)]
        sending: dict[str, Any] = {}
        first = java.call("produce", name=topic, config=config, topic=topic, records=records[:1])
        assert first == [{"partition": 0, "offset": 0, "timestamp": first[0]["timestamp"]}]
        thread = threading.Thread(
            target=lambda: sending.update(
                acked=java.call("produce", name=topic, topic=topic, records=records[1:], pace_ms=10)
            )
        )
        thread.start()
        time.sleep(0.4)  # the restart lands in the middle of the stream (paced over ~1.2 s)
        assert thread.is_alive()  # still sending
        own.restart(crash=crash)
        thread.join(timeout=150)
        assert not thread.is_alive()
        java.call("producer_close", name=topic)
        acked = sending["acked"]
        assert not [m for m in acked if "error" in m]
        assert [m["offset"] for m in acked] == list(range(1, 120))

        reader = open_consumer(java, own, names("restart-reader"), assign=[[topic, 0]])
        try:
            got = read(java, reader, 120)
            assert [(r["offset"], r["value"]) for r in got] == [(i, f"v{i}") for i in range(120)]
            assert java.call("consumer_records", name=reader, count=1, timeout_ms=500) == []
        finally:
            java.call("consumer_close", name=reader)
