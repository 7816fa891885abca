"""State shared by the coordinator's parts: the groups, the partitions owned, and the writes to `__consumer_offsets`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from brook.common.clock import Clock
from brook.common.errors import BrookError, ErrorCode
from brook.coordinator import offsets_topic as ot
from brook.coordinator.api import (
    CoordinatorConfig,
    JoinResult,
    Leadership,
    OffsetsWriter,
    ReplicatedCallback,
    SyncResult,
)
from brook.coordinator.group import Group, Member

logger = logging.getLogger(__name__)

__all__ = ["CoordinatorState", "group_store_error", "offset_commit_error"]


class CoordinatorState:
    def __init__(
        self,
        config: CoordinatorConfig,
        writer: OffsetsWriter,
        clock: Clock,
        leadership: Leadership | None = None,
    ) -> None:
        self.config = config
        self._writer = writer
        self._clock = clock
        # Asked on every request: a partition is served only while this broker leads it in the epoch
        # it was loaded in (a coordinator that lost leadership, even for a moment, never answers from
        # its old cache). None: trust the ownership given through begin_loading/unload.
        self._leadership = leadership
        self._groups: dict[str, Group] = {}
        self._owned: dict[int, int] = {}  # partition -> the leader epoch it was loaded in
        self._loading: set[int] = set()
        # topics deleted while a partition was loading: their offsets go once it is loaded
        self._deleted_while_loading: dict[int, set[str]] = {}
        self._next_retention_check_ms: int | None = None
        self._write_seq = 0  # orders our appends: a commit's cache update never overwrites a newer one

    # --- ownership and loading -----------------------------------------------------------------

    def partition_for(self, group_id: str) -> int:
        return ot.partition_for(group_id, self.config.offsets_topic_partitions)

    def _groups_in(self, partition: int) -> list[Group]:
        return [g for g in self._groups.values() if self.partition_for(g.group_id) == partition]

    def _check_group_id(self, group_id: str | None) -> ErrorCode:
        if not group_id:
            return ErrorCode.invalid_group_id
        return self._check_partition(self.partition_for(group_id))

    def _check_partition(self, partition: int) -> ErrorCode:
        epoch = self._owned.get(partition)
        if epoch is None:
            if self._leadership is not None and self._leadership(partition) is not None:
                # led here, not taken over yet: FindCoordinator (from the same metadata) already names this
                # broker, and Kafka's coordinator answers "loading" until it has replayed the partition
                return ErrorCode.coordinator_load_in_progress
            return ErrorCode.not_coordinator
        if self._leadership is not None:
            current = self._leadership(partition)
            if current is None:
                return ErrorCode.not_coordinator  # leadership moved; unloading follows
            if current != epoch:
                return ErrorCode.coordinator_load_in_progress  # led again in a new epoch: reloading
        if partition in self._loading:
            return ErrorCode.coordinator_load_in_progress
        return ErrorCode.none

    def _next_write_seq(self) -> int:
        self._write_seq += 1
        return self._write_seq

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

    def _store_group(self, group: Group, now: int, on_stored: ReplicatedCallback | None = None) -> None:
        """Append the group's metadata record. With `on_stored`, wait for the ISR (Kafka's storeGroup):
        `on_stored` gets ErrorCode.none or Kafka's storeGroup error, exactly once. Without, a failure is
        only logged (Kafka writes an emptied group the same way: the old generation has no members)."""
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
        callback = None if on_stored is None else _mapped(on_stored, group_store_error)
        try:
            self._writer.append(self.partition_for(group.group_id), [record], callback)
        except BrookError as exc:
            logger.warning("failed to store group metadata group=%s: %s", group.group_id, exc)
            if on_stored is not None:
                on_stored(group_store_error(exc.error_code))


def _mapped(callback: ReplicatedCallback, mapping: Callable[[ErrorCode], ErrorCode]) -> ReplicatedCallback:
    def call(code: ErrorCode) -> None:
        callback(mapping(code))

    return call


_UNAVAILABLE = frozenset(
    {
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.not_enough_replicas,
        ErrorCode.not_enough_replicas_after_append,
    }
)
_MOVED = frozenset({ErrorCode.not_leader_or_follower, ErrorCode.kafka_storage_error})
_TOO_LARGE = frozenset(
    {ErrorCode.message_too_large, ErrorCode.record_list_too_large, ErrorCode.invalid_fetch_size}
)


def offset_commit_error(code: ErrorCode) -> ErrorCode:
    """A failed `__consumer_offsets` write as OffsetCommit answers it (GroupMetadataManager's
    maybeConvertOffsetCommitError); REQUEST_TIMED_OUT stays as it is."""
    if code in _UNAVAILABLE:
        return ErrorCode.coordinator_not_available
    if code in _MOVED:
        return ErrorCode.not_coordinator
    if code in _TOO_LARGE:
        return ErrorCode.invalid_commit_offset_size
    return code


def group_store_error(code: ErrorCode) -> ErrorCode:
    """A failed group metadata write as SyncGroup answers it (GroupMetadataManager.storeGroup)."""
    if code in _UNAVAILABLE:
        return ErrorCode.coordinator_not_available
    if code in _MOVED:
        return ErrorCode.not_coordinator
    if code == ErrorCode.request_timed_out:
        return ErrorCode.rebalance_in_progress
    if code in _TOO_LARGE:
        return ErrorCode.unknown_server_error
    return code
