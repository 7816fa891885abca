"""The rebalance: PreparingRebalance → CompletingRebalance, choosing the leader, removing members."""

from __future__ import annotations

import logging

from brook.common.errors import ErrorCode
from brook.coordinator.api import JoinResult, SyncResult
from brook.coordinator.group import Group, GroupState, Member
from brook.coordinator.state import CoordinatorState

logger = logging.getLogger(__name__)

__all__ = ["Rebalance"]


class Rebalance(CoordinatorState):
    def _current_generation(self, group: Group, member_id: str) -> JoinResult:
        is_leader = member_id == group.leader_id
        return JoinResult(
            ErrorCode.none,
            member_id,
            group.generation_id,
            group.protocol_type,
            group.protocol_name,
            group.leader_id or "",
            self._member_list(group) if is_leader else [],
        )

    def _member_list(self, group: Group) -> list[tuple[str, str | None, bytes]]:
        assert group.protocol_name is not None
        return [
            (m.member_id, m.group_instance_id, m.metadata_for(group.protocol_name))
            for m in group.members.values()
        ]

    def _maybe_prepare_rebalance(self, group: Group, now: int, reason: str) -> None:
        if group.is_in(GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY):
            self._prepare_rebalance(group, now, reason)

    def _prepare_rebalance(self, group: Group, now: int, reason: str) -> None:
        if group.state is GroupState.COMPLETING_REBALANCE:
            self._reset_and_propagate_assignment_error(group, ErrorCode.rebalance_in_progress)
        group.sync_deadline_ms = None
        group.pending_sync.clear()
        delay = self.config.initial_rebalance_delay_ms
        timeout = group.max_rebalance_timeout_ms()
        if group.state is GroupState.EMPTY and delay > 0:
            group.join_deadline_ms = now + delay
            group.initial_delay_remaining_ms = max(timeout - delay, 0)
            group.new_member_added = False
            group.initial_delay_active = True
        else:
            group.join_deadline_ms = now + timeout
            group.initial_delay_active = False
        group.transition_to(GroupState.PREPARING_REBALANCE, now)
        logger.info(
            "preparing rebalance group=%s generation=%d reason=%s",
            group.group_id,
            group.generation_id,
            reason,
        )

    def _try_complete_join(self, group: Group, now: int) -> None:
        if (
            group.state is GroupState.PREPARING_REBALANCE
            and not group.initial_delay_active
            and group.has_all_members_joined()
        ):
            self._complete_join(group, now)

    def _complete_join(self, group: Group, now: int) -> None:
        group.join_deadline_ms = None
        group.initial_delay_active = False
        # Dynamic members that did not rejoin in time are gone; static ones keep their place (KIP-345).
        for member in list(group.members.values()):
            if member.awaiting_join is None and member.group_instance_id is None:
                self._remove_member(group, member, ErrorCode.unknown_member_id)
        self._enforce_max_size(group)
        group.generation_id += 1
        if not group.members:
            group.protocol_name = None
            group.leader_id = None
            group.transition_to(GroupState.EMPTY, now)
            logger.info("group is empty group=%s generation=%d", group.group_id, group.generation_id)
            self._store_group(group, now)
            return
        group.protocol_name = group.select_protocol()
        leader = group.members.get(group.leader_id or "")
        if leader is None or leader.awaiting_join is None:
            group.leader_id = next(
                (m.member_id for m in group.members.values() if m.awaiting_join is not None),
                group.leader_id,
            )
        group.transition_to(GroupState.COMPLETING_REBALANCE, now)
        logger.info(
            "rebalance complete group=%s generation=%d protocol=%s members=%d",
            group.group_id,
            group.generation_id,
            group.protocol_name,
            len(group.members),
        )
        for member in group.members.values():
            callback = member.awaiting_join
            member.awaiting_join = None
            member.is_new = False
            member.last_heartbeat_ms = now
            if callback is not None:
                callback(self._current_generation(group, member.member_id))
        # Every member must now sync within the rebalance timeout, or it is removed.
        group.pending_sync = set(group.members)
        group.sync_deadline_ms = now + group.max_rebalance_timeout_ms()

    def _enforce_max_size(self, group: Group) -> None:
        excess = len(group.members) - self.config.max_group_size
        if excess <= 0:
            return
        victims = [m for m in reversed(group.members.values()) if m.member_id != group.leader_id][:excess]
        for member in victims:
            self._remove_member(group, member, ErrorCode.group_max_size_reached)

    def _reset_and_propagate_assignment_error(self, group: Group, error: ErrorCode) -> None:
        for member in group.members.values():
            member.assignment = b""
            callback = member.awaiting_sync
            member.awaiting_sync = None
            if callback is not None:
                callback(SyncResult(error))

    def _remove_member(self, group: Group, member: Member, error: ErrorCode) -> None:
        group.remove(member.member_id)
        self._fail_pending(member, error)

    def _remove_member_and_update_group(self, group: Group, member: Member, now: int, reason: str) -> None:
        self._remove_member(group, member, ErrorCode.unknown_member_id)
        logger.info("member removed group=%s member=%s reason=%s", group.group_id, member.member_id, reason)
        if group.state is GroupState.PREPARING_REBALANCE:
            self._try_complete_join(group, now)
        elif group.is_in(GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, now, reason)
            self._try_complete_join(group, now)
