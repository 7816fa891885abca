"""Fetch responses sent from the segment files (broker/zero_copy.py) on a real broker: every batch arrives
whole, valid and in offset order, for v11 and flexible v12, when the client reads at once and when it
lets the socket fill up first (the rest then goes through the transport), and the responses behind a
Fetch on the same connection still come in request order."""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest
from kio.serial import entity_reader

from brook.common.errors import ErrorCode
from brook.protocol import codec
from brook.records.batch import crc_is_valid, iter_batches
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.raw_client import RawClient, fetch_body, produce_body, read_exactly, read_frame

pytestmark = pytest.mark.integration

PARTITIONS = 4
BATCHES = 6  # a partition: 6 batches of ~500 KB, so one fetch of every partition is ~12 MB
MAGIC_AT = 16  # baseOffset, batchLength, partitionLeaderEpoch precede it; the broker rewrites those


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("zero-copy"), overrides={"auto.create.topics.enable": "false"}
    ) as process:
        raw = RawClient(process.bootstrap, timeout_s=60)
        topics = [{"name": "wide", "num_partitions": PARTITIONS, "replication_factor": 1}]
        assert raw.request(19, 5, {"topics": topics, "timeout": 5000}).topics[0].error_code == ErrorCode.none
        produced: dict[int, list[bytes]] = {}
        for p in range(PARTITIONS):
            produced[p] = []
            for i in range(BATCHES):
                batch = bytes(make_batch([(b"k%d-%d" % (p, i), os.urandom(500_000))]))
                response = raw.request(0, 9, produce_body("wide", p, batch))
                assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
                produced[p].append(batch)
        raw.close()
        yield process, produced


def _fetch_all() -> dict:
    body = fetch_body("wide", 0)
    body["topics"][0]["partitions"] = [
        {"partition": p, "fetch_offset": 0, "partition_max_bytes": 0x7FFFFFFF} for p in range(PARTITIONS)
    ]
    return body


def _decode(frame: bytes, version: int):
    """A Fetch response frame (after its size) as kio's entity: header v0, v1 (a tag byte) from v12."""
    offset = 4 + (1 if codec.is_flexible_request(1, version) else 0)
    entity, _ = entity_reader(codec.response_class(1, version))(frame, offset)
    return entity


def _check(response, produced: dict[int, list[bytes]]) -> None:
    assert response.error_code == ErrorCode.none
    partitions = {p.partition_index: p for p in response.responses[0].partitions}
    assert sorted(partitions) == list(range(PARTITIONS))
    for p, batches in produced.items():
        records = partitions[p].records
        assert partitions[p].error_code == ErrorCode.none
        found = list(iter_batches(records))
        assert [h.base_offset for _, h in found] == list(range(len(batches)))
        assert sum(h.size for _, h in found) == len(records)  # whole batches only, nothing after them
        for (pos, header), sent in zip(found, batches, strict=True):
            assert crc_is_valid(records, pos, header)
            assert records[pos + MAGIC_AT : pos + header.size] == sent[MAGIC_AT:]


@pytest.mark.parametrize("version", [11, 12])
def test_a_wide_fetch_read_at_once_has_every_batch_whole_and_in_order(broker, version):
    process, produced = broker
    with RawClient(process.bootstrap, timeout_s=60) as raw:
        _check(raw.request(1, version, _fetch_all()), produced)


@pytest.mark.parametrize("version", [11, 12])
def test_a_fetch_the_client_lets_fill_its_socket_still_arrives_whole_with_the_next_answers_behind_it(
    broker, version
):
    """The client does not read for a while: the socket takes part of the response, the rest is read from
    the files and queued; an ApiVersions and a second Fetch sent behind it are answered after it, in order."""
    process, produced = broker
    with RawClient(process.bootstrap, timeout_s=60) as raw:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        frames = [
            raw.frame(1, version, _fetch_all()),
            raw.frame(18, 3, {}),
            raw.frame(1, version, _fetch_all()),
        ]
        raw.send_raw(b"".join(data for _, data in frames))
        time.sleep(1.0)  # the broker is meant to meet a full socket here: nothing reads for a second
        answers = [read_frame(raw.sock) for _ in frames]
        assert [int.from_bytes(a[:4], "big") for a in answers] == [cid for cid, _ in frames]
        _check(_decode(answers[0], version), produced)
        _check(_decode(answers[2], version), produced)
    assert process.process.poll() is None


def test_a_fetch_behind_bytes_in_the_transport_arrives_whole_after_them(broker):
    """A Fetch v3 answer (down-converted bytes, sent through the transport) to a client that reads slowly,
    then a v11 Fetch sent from the files on the same connection: both arrive whole and in order (the
    file ranges go to the socket only once the transport has sent what it holds)."""
    process, produced = broker
    with RawClient(process.bootstrap, timeout_s=60) as raw:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        frames = [raw.frame(1, 3, _fetch_v3_all()), raw.frame(1, 11, _fetch_all())]
        raw.send_raw(b"".join(data for _, data in frames))
        time.sleep(0.5)
        # the first answer slowly (the broker resumes when its buffer is under a quarter of 1 MiB: it must
        # still hold bytes when the Fetch behind it is ready)
        (size,) = struct.unpack(">i", read_exactly(raw.sock, 4))
        first = bytearray()
        while len(first) < size:
            first += raw.sock.recv(min(32 * 1024, size - len(first)))
            time.sleep(0.0005)
        second = read_frame(raw.sock)
        assert [int.from_bytes(a[:4], "big") for a in (first, second)] == [cid for cid, _ in frames]
        assert len(first) > PARTITIONS * BATCHES * 500_000  # every message, down-converted
        _check(_decode(second, 11), produced)


def _fetch_v3_all() -> bytes:
    """Fetch v3 (kio has no v0-3): replica_id, max_wait, min_bytes, max_bytes int32, [topic string,
    [partition int32, fetch_offset int64, partition_max_bytes int32]]."""
    body = struct.pack(">iiiii", -1, 100, 1, 0x7FFFFFFF, 1) + struct.pack(">h", 4) + b"wide"
    body += struct.pack(">i", PARTITIONS)
    for p in range(PARTITIONS):
        body += struct.pack(">iqi", p, 0, 0x7FFFFFFF)
    return body
