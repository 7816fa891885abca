"""Hostile record batches against a real `brook serve`: Kafka's error code for each, nothing appended, the
broker alive and under an RSS bound, and a well-behaved producer alongside gets every record through.

Cases: the record-count lie, records sections that do not parse, decompression bombs (zstd inflating to
a GiB from a few KiB, gzip to 200 MiB; on a plain and a compacted topic), control batches, out-of-range
timestamps (with Produce v8+'s record_errors), several batches in one partition entry, and garbage
appended to __consumer_offsets.
"""

from __future__ import annotations

import os
import struct
import time
import zlib

import pytest
import zstandard
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from crc32c import crc32c

from brook.common.errors import ErrorCode
from brook.records.batch import BATCH_HEADER_SIZE, Compression
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.helpers import wait_until
from tests.integration.hostile_common import rss_bytes, steady_producer
from tests.integration.raw_client import RawClient, log_end_offset, produce_body

pytestmark = pytest.mark.integration

RSS_BOUND_BYTES = 200 * 1024 * 1024  # measured: at most 71 MiB through the whole module
_HEADER = struct.Struct(">qiibIhiqqqhii")
_HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("hostile"), overrides={"auto.create.topics.enable": "false"}
    ) as process:
        topics = [
            {"name": "steady", "num_partitions": 1, "replication_factor": 1},
            {"name": "target", "num_partitions": 1, "replication_factor": 1},
            {
                "name": "compacted",
                "num_partitions": 1,
                "replication_factor": 1,
                "configs": [{"name": "cleanup.policy", "value": "compact"}],
            },
            {
                "name": "recent",
                "num_partitions": 1,
                "replication_factor": 1,
                "configs": [
                    {"name": "message.timestamp.before.max.ms", "value": str(_HOUR_MS)},
                    {"name": "message.timestamp.after.max.ms", "value": str(_HOUR_MS)},
                ],
            },
        ]
        with RawClient(process.bootstrap) as raw:
            response = raw.request(19, 5, {"topics": topics, "timeout": 5000})
        assert [t.error_code for t in response.topics] == [ErrorCode.none] * len(topics)
        yield process


@pytest.fixture(scope="module", autouse=True)
def steady(broker):
    """Produces numbered records through every case; all must arrive, in order, exactly once."""
    with steady_producer(broker):
        yield
    assert broker.process.poll() is None


@pytest.fixture(autouse=True)
def broker_stays_healthy(broker):
    yield
    assert broker.process.poll() is None, "the broker died"
    rss = rss_bytes(broker)
    print(f" [broker RSS {rss / 2**20:.0f} MiB]", end="")  # noqa: T201 - the figure, visible with -s
    assert rss < RSS_BOUND_BYTES


def _produce(broker, topic: str, records: bytes, version: int = 9):
    with RawClient(broker.bootstrap, timeout_s=60) as raw:
        return raw.request(0, version, produce_body(topic, 0, records)).responses[0].partition_responses[0]


def _raw_batch(section: bytes, *, records_count: int, last_offset_delta: int, attributes: int = 0) -> bytes:
    """A batch with a valid CRC around any records section."""
    buf = bytearray(BATCH_HEADER_SIZE) + section
    now = 1_700_000_000_000
    _HEADER.pack_into(
        buf, 0, 0, len(buf) - 12, -1, 2, 0, attributes, last_offset_delta, now, now, -1, -1, -1, records_count
    )
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[21:]))
    return bytes(buf)


def _rejected(broker, topic: str, batch: bytes, code: ErrorCode, version: int = 9):
    before = log_end_offset(broker.bootstrap, topic)
    result = _produce(broker, topic, batch, version)
    assert result.error_code == code, result
    assert log_end_offset(broker.bootstrap, topic) == before
    return result


def test_the_record_count_lie_is_invalid_record(broker):
    lie = _raw_batch(os.urandom(64), records_count=1_000_000, last_offset_delta=2**31 - 1)
    _rejected(broker, "target", lie, ErrorCode.invalid_record)
    consistent_lie = _raw_batch(os.urandom(64), records_count=1_000_000, last_offset_delta=999_999)
    _rejected(broker, "target", consistent_lie, ErrorCode.invalid_record)
    _rejected(broker, "target", consistent_lie, ErrorCode.invalid_record, version=3)


def _zstd_bomb(inflated_bytes: int) -> bytes:
    """One record that claims a 2 GiB body and carries `inflated_bytes` of zeros, compressed in chunks."""
    chunker = zstandard.ZstdCompressor(level=3).chunker(chunk_size=1 << 20)
    out = list(chunker.compress(b"\xfe\xff\xff\xff\x0f\x00\x00\x00\x01\xfe\xff\xff\xff\x0f"))
    zeros = bytes(1 << 20)
    for _ in range(inflated_bytes >> 20):
        out.extend(chunker.compress(zeros))
    out.extend(chunker.finish())
    return b"".join(out)


def _gzip_bomb(inflated_bytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(b"\xfe\xff\xff\xff\x0f\x00\x00\x00\x01\xfe\xff\xff\xff\x0f")]
    zeros = bytes(1 << 20)
    for _ in range(inflated_bytes >> 20):
        out.append(compressor.compress(zeros))
    out.append(compressor.flush())
    return b"".join(out)


@pytest.mark.parametrize("topic", ["target", "compacted"])
def test_a_zstd_bomb_of_a_gibibyte_is_refused_without_inflating_it(broker, topic):
    section = _zstd_bomb(1 << 30)
    assert len(section) < 64 * 1024
    bomb = _raw_batch(section, records_count=1, last_offset_delta=0, attributes=Compression.zstd)
    _rejected(broker, topic, bomb, ErrorCode.message_too_large)


def test_a_gzip_bomb_is_refused(broker):
    section = _gzip_bomb(200 << 20)
    bomb = _raw_batch(section, records_count=1, last_offset_delta=0, attributes=Compression.gzip)
    _rejected(broker, "compacted", bomb, ErrorCode.message_too_large)


def test_compressed_zeros_are_invalid_records(broker):
    chunker = zstandard.ZstdCompressor().chunker(chunk_size=1 << 20)
    section = b"".join([*chunker.compress(bytes(256 << 20)), *chunker.finish()])
    zeros = _raw_batch(section, records_count=5, last_offset_delta=4, attributes=Compression.zstd)
    _rejected(broker, "target", zeros, ErrorCode.invalid_record)


def test_control_batches_from_a_client_are_invalid_records(broker):
    control = make_batch(
        [(b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00")], control=True, transactional=True
    )
    _rejected(broker, "target", bytes(control), ErrorCode.invalid_record)


def test_two_batches_in_one_partition_entry_are_invalid_records(broker):
    two = make_batch([(b"k", b"1")]) + make_batch([(b"k", b"2")])
    _rejected(broker, "target", bytes(two), ErrorCode.invalid_record)


def test_timestamps_out_of_range_come_back_as_record_errors(broker):
    now = int(time.time() * 1000)
    batch = make_batch(
        [(b"k", b"old"), (b"k", b"fine"), (b"k", b"future")],
        timestamps=[now - 2 * _HOUR_MS, now, now + 2 * _HOUR_MS],
    )
    result = _rejected(broker, "recent", bytes(batch), ErrorCode.invalid_timestamp)
    assert [e.batch_index for e in result.record_errors] == [0, 2]
    assert all("out of range" in e.batch_index_error_message for e in result.record_errors)
    assert result.error_message
    fine = make_batch([(b"k", b"a"), (b"k", b"b")], timestamps=[now - 1000, now])
    assert _produce(broker, "recent", bytes(fine)).error_code == ErrorCode.none


def test_compacted_topics_name_the_records_without_keys(broker):
    batch = make_batch([(b"k", b"a"), (None, b"b")])
    result = _rejected(broker, "compacted", bytes(batch), ErrorCode.invalid_record)
    assert [e.batch_index for e in result.record_errors] == [1]


def test_garbage_into_consumer_offsets_is_refused_and_groups_keep_their_offsets(broker):
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "hostile-group", "enable.auto.commit": False}
    )
    try:
        consumer.commit(offsets=[KafkaTopicPartition("steady", 0, 3)], asynchronous=False)
        for partition in range(3):
            with RawClient(broker.bootstrap) as raw:
                body = {
                    "acks": 1,
                    "timeout": 5000,
                    "topic_data": [
                        {
                            "name": "__consumer_offsets",
                            "partition_data": [
                                {
                                    "index": partition,
                                    "records": bytes(make_batch([(os.urandom(20), os.urandom(50))])),
                                }
                            ],
                        }
                    ],
                }
                result = raw.request(0, 9, body).responses[0].partition_responses[0]
            assert result.error_code == ErrorCode.invalid_topic_exception
        committed = wait_until(lambda: consumer.committed([KafkaTopicPartition("steady", 0)], timeout=10))
        assert committed[0].offset == 3
    finally:
        consumer.close()


def test_well_formed_batches_of_every_codec_still_land(broker):
    before = log_end_offset(broker.bootstrap, "target")
    for codec in Compression:
        batch = make_batch([(b"k%d" % i, os.urandom(100)) for i in range(50)], compression=codec)
        assert _produce(broker, "target", bytes(batch)).error_code == ErrorCode.none
    assert log_end_offset(broker.bootstrap, "target") == before + 50 * len(Compression)
