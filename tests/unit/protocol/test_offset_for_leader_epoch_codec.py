"""OffsetForLeaderEpoch v0-1, decoded by hand: hostile counts and truncations are refused, never trusted."""

from __future__ import annotations

import struct

import pytest

from brook.protocol.connection import RemoteProtocolError
from brook.protocol.offset_for_leader_epoch import (
    EpochRequestPartition,
    decode_old_offset_for_leader_epoch,
)


def _request(topics: list[tuple[str, list[tuple[int, int]]]]) -> bytes:
    out = [struct.pack(">i", len(topics))]
    for name, partitions in topics:
        raw = name.encode()
        out.append(struct.pack(">h", len(raw)) + raw + struct.pack(">i", len(partitions)))
        out.extend(struct.pack(">ii", p, e) for p, e in partitions)
    return b"".join(out)


def test_a_well_formed_request_decodes() -> None:
    body = _request([("orders", [(0, 3), (1, 4)])])
    assert decode_old_offset_for_leader_epoch(body) == [
        ("orders", [EpochRequestPartition(0, 3), EpochRequestPartition(1, 4)])
    ]


@pytest.mark.parametrize("count", [2**31 - 1, 0x7FFFFFFF, 1_000_000])
def test_a_huge_topic_count_over_no_bytes_is_refused(count: int) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_old_offset_for_leader_epoch(struct.pack(">i", count))


def test_a_huge_partition_count_is_refused_before_any_partition_is_read() -> None:
    body = struct.pack(">i", 1) + struct.pack(">h", 1) + b"t" + struct.pack(">i", 2**31 - 1)
    with pytest.raises(RemoteProtocolError, match="partitions run past"):
        decode_old_offset_for_leader_epoch(body)


def test_a_name_longer_than_the_frame_is_refused() -> None:
    body = struct.pack(">i", 1) + struct.pack(">h", 0x7FFF) + b"abc"
    with pytest.raises(RemoteProtocolError, match="topic name"):
        decode_old_offset_for_leader_epoch(body)


def test_every_truncation_is_refused() -> None:
    body = _request([("orders", [(0, 3), (1, 4)]), ("x", [(7, 1)])])
    for cut in range(len(body)):
        with pytest.raises(RemoteProtocolError):
            decode_old_offset_for_leader_epoch(body[:cut])
