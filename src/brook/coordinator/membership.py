"""SyncGroup, Heartbeat, LeaveGroup and the members' timers (session, join and sync deadlines)."""

from __future__ import annotations

import logging

from brook.common.errors import ErrorCode
from brook.coordinator.api import SyncCallback, SyncResult
from brook.coordinator.group import Group, GroupState
from brook.coordinator.rebalance import Rebalance

logger = logging.getLogger(__name__)

__all__ = ["Membership"]


class Membership(Rebalance):
    def sync_group(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        assignments: dict[str, bytes],
        respond: SyncCallback,
        *,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
    ) -> None:
        now = self._clock.now_ms()
        group, error = self._member_group(group_id, member_id, group_instance_id)
        if group is not None and error == ErrorCode.none:
            if generation_id != group.generation_id:
                error = ErrorCode.illegal_generation
            elif (protocol_type is not None and protocol_type != group.protocol_type) or (
                protocol_name is not None and protocol_name != group.protocol_name
            ):
                error = ErrorCode.inconsistent_group_protocol
            elif group.state is GroupState.PREPARING_REBALANCE:
                error = ErrorCode.rebalance_in_progress
            elif group.state is GroupState.EMPTY:
                error = ErrorCode.unknown_member_id
        if group is None or error != ErrorCode.none:
            respond(SyncResult(error))
            return
        member = group.members[member_id]
        member.last_heartbeat_ms = now
        group.pending_sync.discard(member_id)
        if not group.pending_sync:
            group.sync_deadline_ms = None
        if group.state is GroupState.STABLE:
            respond(SyncResult(ErrorCode.none, member.assignment, group.protocol_type, group.protocol_name))
            return
        if member.awaiting_sync is not None:
            member.awaiting_sync(SyncResult(ErrorCode.rebalance_in_progress))
        member.awaiting_sync = respond
        if member_id == group.leader_id:
            self._complete_sync(group, assignments, now)

    def _complete_sync(self, group: Group, assignments: dict[str, bytes], now: int) -> None:
        """Store the assignment; answer the members once the offsets topic's ISR has it (Kafka's storeGroup)."""
        for m in group.members.values():
            m.assignment = assignments.get(m.member_id, b"")
        generation = group.generation_id

        def on_stored(error: ErrorCode) -> None:
            # Another member may have joined, or the group left this coordinator, while we waited.
            if (
                self._groups.get(group.group_id) is not group
                or group.state is not GroupState.COMPLETING_REBALANCE
                or group.generation_id != generation
            ):
                return
            later = self._clock.now_ms()
            if error != ErrorCode.none:
                logger.warning("failed to store group group=%s error=%s", group.group_id, error.name)
                self._reset_and_propagate_assignment_error(group, error)
                self._prepare_rebalance(group, later, "storing the assignment failed")
                self._try_complete_join(group, later)
                return
            group.transition_to(GroupState.STABLE, later)
            for m in group.members.values():
                callback = m.awaiting_sync
                m.awaiting_sync = None
                if callback is not None:
                    callback(
                        SyncResult(ErrorCode.none, m.assignment, group.protocol_type, group.protocol_name)
                    )

        self._store_group(group, now, on_stored)

    def _member_group(
        self, group_id: str, member_id: str, instance_id: str | None
    ) -> tuple[Group | None, ErrorCode]:
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            return None, error
        group = self._groups.get(group_id)
        if group is None:
            return None, ErrorCode.unknown_member_id
        if group.state is GroupState.DEAD:
            return None, ErrorCode.coordinator_not_available
        return group, self._validate_member(group, member_id, instance_id)

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, group_instance_id: str | None
    ) -> ErrorCode:
        group, error = self._member_group(group_id, member_id, group_instance_id)
        if group is None or error != ErrorCode.none:
            return error
        if group.state is GroupState.EMPTY:
            return ErrorCode.unknown_member_id
        if generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        group.members[member_id].last_heartbeat_ms = self._clock.now_ms()
        if group.state is GroupState.PREPARING_REBALANCE:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    def leave_group(
        self, group_id: str, members: list[tuple[str, str | None]]
    ) -> tuple[ErrorCode, list[ErrorCode]]:
        """Remove members (member_id, group_instance_id); returns the group error and one per member."""
        now = self._clock.now_ms()
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            return error, []
        group = self._groups.get(group_id)
        if group is None:
            return ErrorCode.none, [ErrorCode.unknown_member_id for _ in members]
        if group.state is GroupState.DEAD:
            return ErrorCode.coordinator_not_available, []
        return ErrorCode.none, [self._leave_one(group, mid, iid, now) for mid, iid in members]

    def _leave_one(self, group: Group, member_id: str, instance_id: str | None, now: int) -> ErrorCode:
        if member_id and group.is_static_member_fenced(member_id, instance_id):
            return ErrorCode.fenced_instance_id
        resolved = member_id or group.static_member_id(instance_id) or ""
        if resolved in group.pending_members:
            del group.pending_members[resolved]
            self._try_complete_join(group, now)
            return ErrorCode.none
        member = group.members.get(resolved)
        if member is None:
            return ErrorCode.unknown_member_id
        self._remove_member_and_update_group(group, member, now, f"member {resolved} left")
        return ErrorCode.none

    def _expire_pending_members(self, group: Group, now: int) -> None:
        expired = [mid for mid, deadline in group.pending_members.items() if now >= deadline]
        for member_id in expired:
            del group.pending_members[member_id]
        if expired:
            self._try_complete_join(group, now)
            if (
                not group.members
                and not group.offsets
                and not group.pending_commits
                and group.state is GroupState.EMPTY
            ):
                self._groups.pop(group.group_id, None)

    def _expire_members(self, group: Group, now: int) -> None:
        for member in list(group.members.values()):
            if member.awaiting_sync is not None:
                continue
            if member.awaiting_join is not None:
                # A rejoining member waits for the rebalance deadline; only brand-new ones time out here.
                expired = (
                    member.is_new and now >= member.last_heartbeat_ms + self.config.new_member_join_timeout_ms
                )
            else:
                expired = now >= member.last_heartbeat_ms + member.session_timeout_ms
            if expired and member.member_id in group.members:
                self._remove_member_and_update_group(group, member, now, "session timeout")

    def _check_join_deadline(self, group: Group, now: int) -> None:
        deadline = group.join_deadline_ms
        if group.state is not GroupState.PREPARING_REBALANCE or deadline is None or now < deadline:
            return
        if group.initial_delay_active and group.new_member_added and group.initial_delay_remaining_ms > 0:
            # Kafka's InitialDelayedJoin: members still arriving, wait another delay (within the budget).
            delay = min(self.config.initial_rebalance_delay_ms, group.initial_delay_remaining_ms)
            group.initial_delay_remaining_ms -= delay
            group.new_member_added = False
            group.join_deadline_ms = now + delay
            return
        self._complete_join(group, now)

    def _check_sync_deadline(self, group: Group, now: int) -> None:
        deadline = group.sync_deadline_ms
        if deadline is None or now < deadline:
            return
        group.sync_deadline_ms = None
        if not group.is_in(GroupState.COMPLETING_REBALANCE, GroupState.STABLE) or not group.pending_sync:
            return
        late = [group.members[mid] for mid in group.pending_sync if mid in group.members]
        group.pending_sync.clear()
        for member in late:
            self._remove_member(group, member, ErrorCode.unknown_member_id)
            logger.info(
                "member removed group=%s member=%s reason=no SyncGroup", group.group_id, member.member_id
            )
        self._prepare_rebalance(group, now, "members did not sync in time")
        self._try_complete_join(group, now)
