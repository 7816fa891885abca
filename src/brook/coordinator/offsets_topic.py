"""The `__consumer_offsets` topic: which partition holds a group, and Kafka's record key/value layouts.

Keys and values are Kafka's own (non-flexible) schemas, so tools that read `__consumer_offsets` from a
Kafka cluster read brook's too. Every field is big-endian; strings are int16 length + UTF-8 (-1 = null),
bytes are int32 length + data.

    OffsetCommitKey    v1: version int16, group string, topic string, partition int32
    OffsetCommitValue  v3: version int16, offset int64, leader_epoch int32, metadata string,
                           commit_timestamp int64  (v1 adds expire_timestamp int64 after commit_timestamp)
    GroupMetadataKey   v2: version int16, group string
    GroupMetadataValue v3: version int16, protocol_type string, generation int32, protocol string?,
                           leader string?, current_state_timestamp int64, members [member_id string,
                           group_instance_id string?, client_id string, client_host string,
                           rebalance_timeout int32, session_timeout int32, subscription bytes,
                           assignment bytes]

A null value is a tombstone: the offset (or group) was deleted. This module knows nothing of logs.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field

__all__ = [
    "OFFSETS_TOPIC",
    "GroupMetadataKey",
    "GroupMetadataValue",
    "MemberRecord",
    "OffsetCommitKey",
    "OffsetCommitValue",
    "decode_key",
    "decode_group_metadata_value",
    "decode_offset_commit_value",
    "encode_group_metadata_key",
    "encode_group_metadata_value",
    "encode_offset_commit_key",
    "encode_offset_commit_value",
    "java_string_hashcode",
    "partition_for",
    "replication_factor",
    "subscribed_topics",
]

OFFSETS_TOPIC = "__consumer_offsets"

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


def java_string_hashcode(value: str) -> int:
    """Java's String.hashCode: over UTF-16 code units, wrapping at 32 bits (signed)."""
    h = 0
    data = value.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


# The ids a broker serves repeat on every request (each AddPartitionsToTxn and EndTxn looks its id's partition up
# several times; the hash is a Python loop per character): the recent ones are remembered, short ones only, so the
# cache stays small (a few hundred KiB at most) whatever ids clients send.
_CACHED_ID_CHARS = 255
_cached_hashcode = functools.lru_cache(maxsize=4096)(java_string_hashcode)


def partition_for(group_id: str, num_partitions: int) -> int:
    """Kafka's `Utils.abs(groupId.hashCode) % n` (Utils.abs maps Integer.MIN_VALUE to 0)."""
    h = _cached_hashcode(group_id) if len(group_id) <= _CACHED_ID_CHARS else java_string_hashcode(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % num_partitions


@dataclass(frozen=True, slots=True)
class OffsetCommitKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupMetadataKey:
    group: str


@dataclass(frozen=True, slots=True)
class OffsetCommitValue:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int
    expire_timestamp: int = -1


@dataclass(frozen=True, slots=True)
class MemberRecord:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int
    members: list[MemberRecord] = field(default_factory=list)


# --- writing -----------------------------------------------------------------------------------


def _string(value: str | None) -> bytes:
    if value is None:
        return _I16.pack(-1)
    data = value.encode()
    return _I16.pack(len(data)) + data


def _bytes(value: bytes) -> bytes:
    return _I32.pack(len(value)) + value


def encode_offset_commit_key(group: str, topic: str, partition: int) -> bytes:
    return _I16.pack(1) + _string(group) + _string(topic) + _I32.pack(partition)


def encode_group_metadata_key(group: str) -> bytes:
    return _I16.pack(2) + _string(group)


def encode_offset_commit_value(value: OffsetCommitValue) -> bytes:
    if value.expire_timestamp >= 0:  # v1 is the only layout that carries an explicit expiry
        return (
            _I16.pack(1)
            + _I64.pack(value.offset)
            + _string(value.metadata)
            + _I64.pack(value.commit_timestamp)
            + _I64.pack(value.expire_timestamp)
        )
    return (
        _I16.pack(3)
        + _I64.pack(value.offset)
        + _I32.pack(value.leader_epoch)
        + _string(value.metadata)
        + _I64.pack(value.commit_timestamp)
    )


def encode_group_metadata_value(value: GroupMetadataValue) -> bytes:
    out = [
        _I16.pack(3),
        _string(value.protocol_type),
        _I32.pack(value.generation),
        _string(value.protocol),
        _string(value.leader),
        _I64.pack(value.current_state_timestamp),
        _I32.pack(len(value.members)),
    ]
    for m in value.members:
        out += [
            _string(m.member_id),
            _string(m.group_instance_id),
            _string(m.client_id),
            _string(m.client_host),
            _I32.pack(m.rebalance_timeout_ms),
            _I32.pack(m.session_timeout_ms),
            _bytes(m.subscription),
            _bytes(m.assignment),
        ]
    return b"".join(out)


# --- reading -----------------------------------------------------------------------------------


class _Reader:
    """Reads Kafka's fixed-width types; raises ValueError on truncated input."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError("truncated record")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def int16(self) -> int:
        return int(_I16.unpack(self._take(2))[0])

    def int32(self) -> int:
        return int(_I32.unpack(self._take(4))[0])

    def int64(self) -> int:
        return int(_I64.unpack(self._take(8))[0])

    def nullable_string(self) -> str | None:
        size = self.int16()
        return None if size < 0 else self._take(size).decode()

    def string(self) -> str:
        return self.nullable_string() or ""

    def bytes_(self) -> bytes:
        size = self.int32()
        return b"" if size < 0 else self._take(size)


def decode_key(key: bytes) -> OffsetCommitKey | GroupMetadataKey | None:
    """The key of a `__consumer_offsets` record; None for record types brook does not use."""
    r = _Reader(key)
    version = r.int16()
    if version in (0, 1):
        return OffsetCommitKey(r.string(), r.string(), r.int32())
    if version == 2:
        return GroupMetadataKey(r.string())
    return None  # e.g. v3+ keys of Kafka's newer consumer protocol records


def decode_offset_commit_value(value: bytes) -> OffsetCommitValue:
    r = _Reader(value)
    version = r.int16()
    offset = r.int64()
    leader_epoch = r.int32() if version >= 3 else -1
    metadata = r.string()
    commit_timestamp = r.int64()
    expire_timestamp = r.int64() if version == 1 else -1
    return OffsetCommitValue(offset, leader_epoch, metadata, commit_timestamp, expire_timestamp)


def decode_group_metadata_value(value: bytes) -> GroupMetadataValue:
    r = _Reader(value)
    version = r.int16()
    protocol_type = r.string()
    generation = r.int32()
    protocol = r.nullable_string()
    leader = r.nullable_string()
    state_ts = r.int64() if version >= 2 else -1
    members = []
    for _ in range(r.int32()):
        member_id = r.string()
        instance_id = r.nullable_string() if version >= 3 else None
        client_id = r.string()
        client_host = r.string()
        session_timeout = r.int32()  # field order: rebalance (v1+) comes before session timeout
        rebalance_timeout = session_timeout
        if version >= 1:
            rebalance_timeout, session_timeout = session_timeout, r.int32()
        members.append(
            MemberRecord(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                r.bytes_(),
                r.bytes_(),
            )
        )
    return GroupMetadataValue(protocol_type, generation, protocol, leader, state_ts, members)


def subscribed_topics(subscription: bytes) -> set[str] | None:
    """Topics in a `consumer` protocol subscription (version, [topic], ...); None if malformed."""
    try:
        r = _Reader(subscription)
        r.int16()
        count = r.int32()
        if count < 0 or count > len(subscription):
            return None
        return {r.string() for _ in range(count)}
    except (ValueError, UnicodeDecodeError):
        return None


def replication_factor(configured: int, live_brokers: int, *, single_node: bool) -> int | None:
    """The replication factor to create `__consumer_offsets` with now; None: not yet.

    Kafka creates it only once `offsets.topic.replication.factor` brokers are alive and answers
    COORDINATOR_NOT_AVAILABLE until then, so the topic never starts under-replicated. A single node
    (no ZooKeeper) caps the factor at its one broker, so the defaults work without configuration.
    """
    if live_brokers <= 0:
        return None
    if single_node:
        return min(configured, live_brokers)
    return configured if live_brokers >= configured else None
