"""OffsetForLeaderEpoch v0-1 by hand: kio has no classes for these deprecated versions (v2+ go through it).

Request v0-1 (non-flexible), body after the request header:

    topics: int32 count, then per topic
        topic: int16 length + UTF-8 bytes
        partitions: int32 count, then per partition: partition int32, leader_epoch int32

Response v0: topics [topic string, partitions [error_code int16, partition int32, end_offset int64]]
Response v1: the same with leader_epoch int32 between partition and end_offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from brook.protocol.connection import RemoteProtocolError

__all__ = [
    "EpochEndOffset",
    "EpochRequestPartition",
    "decode_old_offset_for_leader_epoch",
    "encode_old_offset_for_leader_epoch",
]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_PARTITION = struct.Struct(">ii")  # partition, leader_epoch
_RESULT_V0 = struct.Struct(">hiq")  # error_code, partition, end_offset
_RESULT_V1 = struct.Struct(">hiiq")  # error_code, partition, leader_epoch, end_offset


@dataclass(frozen=True, slots=True)
class EpochRequestPartition:
    partition: int
    leader_epoch: int
    current_leader_epoch: int = -1  # v2+; absent from v0-1


@dataclass(frozen=True, slots=True)
class EpochEndOffset:
    partition: int
    error_code: int
    leader_epoch: int = -1
    end_offset: int = -1


def decode_old_offset_for_leader_epoch(body: bytes) -> list[tuple[str, list[EpochRequestPartition]]]:
    """Decode a v0/v1 request body; RemoteProtocolError if it is malformed."""
    try:
        pos = 0
        (topic_count,) = _I32.unpack_from(body, pos)
        pos += 4
        topics: list[tuple[str, list[EpochRequestPartition]]] = []
        for _ in range(max(topic_count, 0)):
            (name_len,) = _I16.unpack_from(body, pos)
            pos += 2
            if name_len < 0 or pos + name_len > len(body):
                raise RemoteProtocolError("topic name runs past the request")
            name = body[pos : pos + name_len].decode("utf-8")
            pos += name_len
            (partition_count,) = _I32.unpack_from(body, pos)
            pos += 4
            if partition_count < 0 or pos + partition_count * _PARTITION.size > len(body):
                raise RemoteProtocolError("partitions run past the request")
            partitions = []
            for _ in range(partition_count):
                partition, epoch = _PARTITION.unpack_from(body, pos)
                pos += _PARTITION.size
                partitions.append(EpochRequestPartition(partition, epoch))
            topics.append((name, partitions))
        return topics
    except (struct.error, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"malformed OffsetForLeaderEpoch v0/v1 request: {exc}") from exc


def encode_old_offset_for_leader_epoch(version: int, topics: list[tuple[str, list[EpochEndOffset]]]) -> bytes:
    out = [_I32.pack(len(topics))]
    for name, results in topics:
        raw = name.encode()
        out.append(_I16.pack(len(raw)) + raw + _I32.pack(len(results)))
        for r in results:
            if version >= 1:
                out.append(_RESULT_V1.pack(r.error_code, r.partition, r.leader_epoch, r.end_offset))
            else:
                out.append(_RESULT_V0.pack(r.error_code, r.partition, r.end_offset))
    return b"".join(out)
