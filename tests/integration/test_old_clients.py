"""The old-client matrix: clients pinned to old protocol versions produce, consume, commit and resume a group.

kafka-python with old `api_version` settings and librdkafka with `api.version.request=false` against a
real `brook serve`. The broker runs with debug logs, so each test also checks, by client id, that the
client really sent the old versions (Produce v0-2 with magic 0/1 message sets, Fetch v0-3, ...).
"""

from __future__ import annotations

import collections
import itertools
import re
import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CTopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition
from kafka.structs import OffsetAndMetadata

from brook.testing import BrookProcess

COUNT = 20
HALF = 10
BASE_TS = 1_700_000_000_000
_REQUEST = re.compile(r"request api_key=(\d+) v(\d+) correlation_id=\d+ client_id=(\S+)")
_ids = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    process = BrookProcess(data_dir=tmp_path_factory.mktemp("old-clients"), max_output_lines=1_000_000)
    process.extra_args = ["--log-level", "debug"]  # every request's api key, version and client id
    with process:
        yield process


def _versions_seen(broker: BrookProcess, client_id: str) -> set[tuple[int, int]]:
    seen: dict[str, set[tuple[int, int]]] = collections.defaultdict(set)
    for line in list(broker.output):
        m = _REQUEST.search(line)
        if m:
            seen[m.group(3)].add((int(m.group(1)), int(m.group(2))))
    return seen[client_id]


def _expected(topic: str) -> list[tuple[int, bytes, bytes]]:
    return [(i, b"k%d-%s" % (i, topic.encode()), b"v%d" % i) for i in range(COUNT)]


# --- kafka-python ----------------------------------------------------------------------------------

# What kafka-python 3.0 sends at each setting (seen on the wire): (api_key, version) pairs that must appear.
KAFKA_PYTHON = {
    # (0, 8, 2): no group membership APIs; commits with generation -1 (a "simple" commit) to the coordinator
    (0, 8, 2): ("gzip", {(0, 0), (1, 0), (2, 0), (3, 0), (8, 1), (9, 1), (10, 0)}),
    (0, 9): ("gzip", {(0, 1), (1, 1), (2, 0), (3, 0), (8, 2), (9, 1), (11, 0), (14, 0)}),
    (0, 10): ("gzip", {(0, 2), (1, 2), (2, 0), (8, 2), (9, 1), (11, 0), (14, 0)}),
    (0, 11): ("lz4", {(0, 3), (1, 5), (2, 2), (8, 3), (9, 3), (11, 2)}),
    (1, 0): (None, {(0, 5), (1, 6), (8, 3), (9, 3), (11, 2)}),
    (2, 0): ("gzip", {(0, 6), (1, 8), (8, 4), (9, 4), (11, 3)}),
}


def _kp_consume(consumer: KafkaConsumer, n: int) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500, max_records=n - len(got)).values():
            got.extend(records)
    return got


@pytest.mark.parametrize(
    "api_version", list(KAFKA_PYTHON), ids=lambda v: "api_version=" + ".".join(map(str, v))
)
def test_kafka_python_old_api_version(broker, api_version):
    codec, versions = KAFKA_PYTHON[api_version]
    topic = f"kp-old-{next(_ids)}"
    client_id = "kp-" + "-".join(map(str, api_version)) + f"-{topic}"
    group = f"group-{topic}"
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap,
        api_version=api_version,
        client_id=client_id,
        acks="all",
        compression_type=codec,
        linger_ms=5,
    )
    futures = [producer.send(topic, key=k, value=v, timestamp_ms=BASE_TS + i) for i, k, v in _expected(topic)]
    producer.flush(30)
    assert [f.get(10).offset for f in futures] == list(range(COUNT))
    producer.close()

    def consumer() -> KafkaConsumer:
        c = KafkaConsumer(
            bootstrap_servers=broker.bootstrap,
            api_version=api_version,
            client_id=client_id,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        c.subscribe([topic])
        return c

    tp = KTopicPartition(topic, 0)
    first = consumer()
    got = _kp_consume(first, HALF)
    assert [(m.offset, m.key, m.value) for m in got] == _expected(topic)[:HALF]
    if api_version >= (0, 10):  # magic 1 keeps timestamps; magic 0 has none
        assert [m.timestamp for m in got] == [BASE_TS + i for i in range(HALF)]
    else:
        assert {m.timestamp for m in got} == {None}
    first.commit({tp: OffsetAndMetadata(HALF, "", -1)})
    assert first.committed(tp) == HALF
    first.close()

    second = consumer()  # the same group: resumes from the committed offset
    rest = _kp_consume(second, COUNT - HALF)
    assert [(m.offset, m.key, m.value) for m in rest] == _expected(topic)[HALF:]
    second.commit()
    assert second.committed(tp) == COUNT
    second.close()

    seen = _versions_seen(broker, client_id)
    assert versions <= seen, f"expected {sorted(versions - seen)} among {sorted(seen)}"


# --- librdkafka -----------------------------------------------------------------------------------

# librdkafka at broker.version.fallback=0.9.0 (api.version.request=false): Metadata v0, Produce v1 (magic 0),
# Fetch v1 (magic 0), ListOffsets v0, JoinGroup/SyncGroup/Heartbeat/LeaveGroup v0, OffsetCommit v2, OffsetFetch v1.
# At 0.10.0 librdkafka sends ApiVersions regardless ("any other value >= 0.10 enables ApiVersionRequests",
# its own CONFIGURATION.md) and uses current versions.
_FALLBACK_0_9 = {(3, 0), (0, 1), (1, 1), (2, 0), (11, 0), (14, 0), (8, 2), (9, 1)}
LIBRDKAFKA = {
    ("0.9.0", "lz4"): _FALLBACK_0_9,  # magic 0 LZ4: Kafka 0.8's frame header checksum both ways
    ("0.9.0", "snappy"): _FALLBACK_0_9,
    ("0.9.0", "gzip"): _FALLBACK_0_9,
    ("0.10.0", "snappy"): {(18, 3)},
}


def _rd_config(broker: BrookProcess, fallback: str, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": broker.bootstrap,
        "api.version.request": False,
        "broker.version.fallback": fallback,
        "client.id": client_id,
        "log_level": 3,  # both settings are deprecated: librdkafka warns on every client
    }


def _rd_consume(consumer: Consumer, n: int) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None:
            continue
        assert m.error() is None, m.error()
        got.append(m)
    return got


@pytest.mark.parametrize(("fallback", "codec"), list(LIBRDKAFKA))
def test_librdkafka_without_api_version_request(broker, fallback, codec):
    versions = LIBRDKAFKA[(fallback, codec)]
    topic = f"rd-old-{next(_ids)}"
    client_id = f"rd-{fallback}-{topic}"
    producer = Producer(
        {**_rd_config(broker, fallback, client_id), "compression.codec": codec, "acks": "all"}
    )
    delivered: list[tuple[int, Any]] = []
    for _, k, v in _expected(topic):
        producer.produce(
            topic, key=k, value=v, on_delivery=lambda err, m: delivered.append((m.offset(), err))
        )
    assert producer.flush(30) == 0
    assert sorted(delivered, key=lambda d: d[0]) == [(i, None) for i in range(COUNT)]

    def consumer() -> Consumer:
        c = Consumer(
            {
                **_rd_config(broker, fallback, client_id),
                "group.id": f"group-{topic}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        c.subscribe([topic])
        return c

    first = consumer()
    got = _rd_consume(first, HALF)
    assert [(m.offset(), m.key(), m.value()) for m in got] == _expected(topic)[:HALF]
    first.commit(offsets=[CTopicPartition(topic, 0, HALF)], asynchronous=False)
    assert first.committed([CTopicPartition(topic, 0)], timeout=10)[0].offset == HALF
    first.close()

    second = consumer()
    rest = _rd_consume(second, COUNT - HALF)
    assert [(m.offset(), m.key(), m.value()) for m in rest] == _expected(topic)[HALF:]
    second.commit(asynchronous=False)
    assert second.committed([CTopicPartition(topic, 0)], timeout=10)[0].offset == COUNT
    second.close()

    seen = _versions_seen(broker, client_id)
    assert versions <= seen, f"expected {sorted(versions - seen)} among {sorted(seen)}"
