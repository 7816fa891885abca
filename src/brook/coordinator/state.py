"""State shared by the coordinator's parts: the groups, the partitions owned, and the writes to `__consumer_offsets`."""

from __future__ import annotations

import logging

from brook.common.clock import Clock
from brook.common.errors import BrookError, ErrorCode, MessageTooLarge, NotLeaderOrFollower
from brook.coordinator import offsets_topic as ot
from brook.coordinator.api import CoordinatorConfig, JoinResult, OffsetsWriter, SyncResult
from brook.coordinator.group import Group, Member

logger = logging.getLogger(__name__)

__all__ = ["CoordinatorState", "coordinator_error"]


class CoordinatorState:
    def __init__(self, config: CoordinatorConfig, writer: OffsetsWriter, clock: Clock) -> None:
        self.config = config
        self._writer = writer
        self._clock = clock
        self._groups: dict[str, Group] = {}
        self._owned: set[int] = set()
        self._loading: set[int] = set()
        self._next_retention_check_ms: int | None = None

    # --- ownership and loading -----------------------------------------------------------------

    def partition_for(self, group_id: str) -> int:
        return ot.partition_for(group_id, self.config.offsets_topic_partitions)

    def _groups_in(self, partition: int) -> list[Group]:
        return [g for g in self._groups.values() if self.partition_for(g.group_id) == partition]

    def _check_group_id(self, group_id: str | None) -> ErrorCode:
        if not group_id:
            return ErrorCode.invalid_group_id
        partition = self.partition_for(group_id)
        if partition not in self._owned:
            return ErrorCode.not_coordinator
        if partition in self._loading:
            return ErrorCode.coordinator_load_in_progress
        return ErrorCode.none

    def _new_group(self, group_id: str, now_ms: int) -> Group:
        group = Group(group_id, state_timestamp_ms=now_ms)
        self._groups[group_id] = group
        return group

    def _fail_pending(self, member: Member, error: ErrorCode) -> None:
        join, sync = member.awaiting_join, member.awaiting_sync
        member.awaiting_join = member.awaiting_sync = None
        if join is not None:
            join(JoinResult(error, member.member_id))
        if sync is not None:
            sync(SyncResult(error))

    def _validate_member(self, group: Group, member_id: str, instance_id: str | None) -> ErrorCode:
        if group.is_static_member_fenced(member_id, instance_id):
            return ErrorCode.fenced_instance_id
        if member_id not in group.members:
            return ErrorCode.unknown_member_id
        return ErrorCode.none

    def _store_group(self, group: Group, now: int, *, raise_errors: bool = False) -> None:
        members = []
        if group.protocol_name is not None:
            members = [
                ot.MemberRecord(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    m.rebalance_timeout_ms,
                    m.session_timeout_ms,
                    m.metadata_for(group.protocol_name),
                    m.assignment,
                )
                for m in group.members.values()
            ]
        value = ot.GroupMetadataValue(
            group.protocol_type or "",
            group.generation_id,
            group.protocol_name,
            group.leader_id,
            now,
            members,
        )
        record = (ot.encode_group_metadata_key(group.group_id), ot.encode_group_metadata_value(value))
        try:
            self._writer.append(self.partition_for(group.group_id), [record])
        except BrookError as exc:
            if raise_errors:
                raise
            logger.warning("failed to store group metadata group=%s: %s", group.group_id, exc)


def coordinator_error(exc: BrookError) -> ErrorCode:
    """What a client should see when appending to `__consumer_offsets` failed (retriable if possible)."""
    if isinstance(exc, NotLeaderOrFollower):
        return ErrorCode.not_coordinator
    if isinstance(exc, MessageTooLarge):
        return ErrorCode.invalid_commit_offset_size
    return ErrorCode.coordinator_not_available
