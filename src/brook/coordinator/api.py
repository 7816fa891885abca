"""The coordinator's vocabulary: its configuration, request parameters, results and the writer it appends through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition

__all__ = [
    "CommitCallback",
    "CoordinatorConfig",
    "GroupDescription",
    "JoinCallback",
    "JoinParams",
    "JoinResult",
    "Leadership",
    "MemberDescription",
    "OffsetsWriter",
    "Records",
    "ReplicatedCallback",
    "SyncCallback",
    "SyncResult",
]

Records = list[tuple[bytes, bytes | None]]


ReplicatedCallback = Callable[[ErrorCode], None]
# This broker's leader epoch of a `__consumer_offsets` partition, None if it does not lead it now.
Leadership = Callable[[int], int | None]


class OffsetsWriter(Protocol):
    def append(
        self, partition: int, records: Records, on_replicated: ReplicatedCallback | None = None
    ) -> None:
        """Append key/value records (value None = tombstone) to a `__consumer_offsets` partition we lead.

        Raises BrookError (NotLeaderOrFollower, ...) if nothing was appended; then `on_replicated` is
        never called. With `on_replicated` the write is Kafka's acks=-1: refused with NotEnoughReplicas
        below the partition's min.insync.replicas, and `on_replicated(code)` is called exactly once, maybe
        before `append` returns: ErrorCode.none once the ISR has the records, else the produce error
        (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND, ...).
        Without it the records are only appended (acks=1)."""
        ...


@dataclass(frozen=True)
class CoordinatorConfig:
    offsets_topic_partitions: int = 50
    min_session_timeout_ms: int = 6_000
    max_session_timeout_ms: int = 1_800_000
    initial_rebalance_delay_ms: int = 3_000
    max_group_size: int = 2**31 - 1
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    offsets_retention_check_interval_ms: int = 600_000
    offset_metadata_max_bytes: int = 4096
    new_member_join_timeout_ms: int = 300_000
    max_protocol_metadata_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class JoinParams:
    group_id: str
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    session_timeout_ms: int
    rebalance_timeout_ms: int
    client_id: str = ""
    client_host: str = ""
    require_known_member_id: bool = True  # JoinGroup v4+


@dataclass(frozen=True)
class JoinResult:
    error_code: ErrorCode
    member_id: str
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class SyncResult:
    error_code: ErrorCode
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol_name: str
    members: list[MemberDescription]


JoinCallback = Callable[[JoinResult], None]
SyncCallback = Callable[[SyncResult], None]
# OffsetCommit's answer: a group-level error, and one error per partition.
CommitCallback = Callable[[ErrorCode, dict[TopicPartition, ErrorCode]], None]
