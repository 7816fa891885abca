"""OffsetForLeaderEpoch (key 23) v0-4 against a real broker: the end of an epoch, fencing, unknown topics."""

from __future__ import annotations

import struct

import pytest

from brook.common.errors import ErrorCode
from brook.testing import BrookProcess, make_batch
from tests.integration.raw_client import RawClient


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("ofle")) as process:
        yield process


def _topic_with_records(raw: RawClient, name: str, count: int) -> int:
    """Create `name`, produce `count` records, return the partition's leader epoch."""
    created = raw.request(
        19, 7, {"topics": [{"name": name, "num_partitions": 1, "replication_factor": 1}], "timeout": 5000}
    )
    assert created.topics[0].error_code == ErrorCode.none
    batch = make_batch([(None, b"v%d" % i) for i in range(count)])
    body = {
        "acks": -1,
        "timeout": 5000,
        "topic_data": [{"name": name, "partition_data": [{"index": 0, "records": batch}]}],
    }
    assert raw.request(0, 9, body).responses[0].partition_responses[0].error_code == ErrorCode.none
    metadata = raw.request(3, 9, {"topics": [{"name": name}], "allow_auto_topic_creation": False})
    return metadata.topics[0].partitions[0].leader_epoch


def _ask(raw: RawClient, version: int, topic: str, leader_epoch: int, current_leader_epoch: int = -1):
    body = {
        "replica_id": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": current_leader_epoch,
                        "leader_epoch": leader_epoch,
                    }
                ],
            }
        ],
    }
    return raw.request(23, version, body).topics[0].partitions[0]


@pytest.mark.parametrize("version", [2, 3, 4])
def test_latest_epoch_ends_at_the_log_end(raw, version):
    name = f"ofle-v{version}"
    epoch = _topic_with_records(raw, name, 3)
    answer = _ask(raw, version, name, epoch, current_leader_epoch=epoch)
    assert (answer.error_code, answer.leader_epoch, answer.end_offset) == (ErrorCode.none, epoch, 3)
    newer = _ask(raw, version, name, epoch, current_leader_epoch=epoch + 1)
    assert newer.error_code == ErrorCode.unknown_leader_epoch
    unknown = _ask(raw, version, "no-such-topic", 0)
    assert unknown.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.parametrize("version", [0, 1])
def test_old_versions_by_hand(raw, version):
    name = f"ofle-old-v{version}"
    epoch = _topic_with_records(raw, name, 4)
    topic = name.encode()
    body = struct.pack(">ih", 1, len(topic)) + topic + struct.pack(">iii", 1, 0, epoch)
    correlation_id = 77
    header = struct.pack(">hhih", 23, version, correlation_id, 3) + b"raw"  # v0-1: not flexible
    raw.send_raw(struct.pack(">i", len(header) + len(body)) + header + body)
    response = raw.read_frame()
    assert struct.unpack_from(">i", response)[0] == correlation_id
    pos = 4
    (topics,) = struct.unpack_from(">i", response, pos)
    pos += 4
    (name_len,) = struct.unpack_from(">h", response, pos)
    pos += 2
    assert response[pos : pos + name_len] == topic
    pos += name_len + 4  # and the partition count
    if version == 0:
        error, partition, end_offset = struct.unpack_from(">hiq", response, pos)
        assert (topics, error, partition, end_offset) == (1, 0, 0, 4)
    else:
        error, partition, got_epoch, end_offset = struct.unpack_from(">hiiq", response, pos)
        assert (topics, error, partition, got_epoch, end_offset) == (1, 0, 0, epoch, 4)
