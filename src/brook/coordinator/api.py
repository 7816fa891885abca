"""The coordinator's vocabulary: its configuration, request parameters, results and the writer it appends through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from brook.common.errors import ErrorCode

__all__ = [
    "CoordinatorConfig",
    "GroupDescription",
    "JoinCallback",
    "JoinParams",
    "JoinResult",
    "MemberDescription",
    "OffsetsWriter",
    "Records",
    "SyncCallback",
    "SyncResult",
]

Records = list[tuple[bytes, bytes | None]]


class OffsetsWriter(Protocol):
    def append(self, partition: int, records: Records) -> None:
        """Append key/value records (value None = tombstone) to a `__consumer_offsets` partition.

        Returns once they are in the log; raises BrookError (NotLeaderOrFollower, ...) otherwise."""
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
