"""JoinGroup: new, known and static (KIP-345) members; KIP-394's member id handshake."""

from __future__ import annotations

import logging
import uuid

from brook.common.errors import ErrorCode
from brook.coordinator.api import JoinCallback, JoinParams, JoinResult
from brook.coordinator.group import Group, GroupState, Member
from brook.coordinator.rebalance import Rebalance

logger = logging.getLogger(__name__)

__all__ = ["Joining"]

_MAX_PROTOCOLS = 64


class Joining(Rebalance):
    def join_group(self, p: JoinParams, respond: JoinCallback) -> None:
        now = self._clock.now_ms()
        error = self._check_group_id(p.group_id)
        if error == ErrorCode.none:
            error = self._check_join_params(p)
        if error != ErrorCode.none:
            respond(JoinResult(error, p.member_id))
            return
        group = self._groups.get(p.group_id)
        if group is None:
            if p.member_id:
                respond(JoinResult(ErrorCode.unknown_member_id, p.member_id))
                return
            group = self._new_group(p.group_id, now)
        if group.state is GroupState.DEAD:
            respond(JoinResult(ErrorCode.coordinator_not_available, p.member_id))
        elif not self._accepts_joining_member(group, p.member_id):
            respond(JoinResult(ErrorCode.group_max_size_reached, p.member_id))
        elif not group.supports_protocols(p.protocol_type, p.protocols):
            respond(JoinResult(ErrorCode.inconsistent_group_protocol, p.member_id))
        elif not p.member_id:
            self._join_new_member(group, p, respond, now)
        else:
            self._join_known_member(group, p, respond, now)
        if (
            not group.members
            and not group.offsets
            and not group.pending_members
            and not group.pending_commits
        ):
            self._groups.pop(group.group_id, None)  # a refused first join leaves nothing behind

    def _check_join_params(self, p: JoinParams) -> ErrorCode:
        c = self.config
        if not c.min_session_timeout_ms <= p.session_timeout_ms <= c.max_session_timeout_ms:
            return ErrorCode.invalid_session_timeout
        if p.rebalance_timeout_ms <= 0 or len(p.protocols) > _MAX_PROTOCOLS:
            return ErrorCode.invalid_request
        if sum(len(m) for _, m in p.protocols) > c.max_protocol_metadata_bytes:
            return ErrorCode.invalid_request
        if len({name for name, _ in p.protocols}) != len(p.protocols):
            return ErrorCode.inconsistent_group_protocol
        return ErrorCode.none

    def _accepts_joining_member(self, group: Group, member_id: str) -> bool:
        limit = self.config.max_group_size
        if group.is_in(GroupState.EMPTY, GroupState.DEAD):
            return True
        member = group.members.get(member_id)
        if group.state is GroupState.PREPARING_REBALANCE:
            return (member is not None and member.awaiting_join is not None) or (
                group.awaiting_join_count() < limit
            )
        return member is not None or len(group.members) < limit

    def _join_new_member(self, group: Group, p: JoinParams, respond: JoinCallback, now: int) -> None:
        member_id = f"{p.client_id}-{uuid.uuid4()}"
        old_member_id = group.static_member_id(p.group_instance_id)
        if old_member_id is not None:
            self._replace_static_member(group, old_member_id, member_id, p, respond, now)
        elif p.group_instance_id is None and p.require_known_member_id:
            # KIP-394: hand out the id first, so a client that retries a lost JoinGroup is not a new member.
            group.pending_members[member_id] = now + p.session_timeout_ms
            respond(JoinResult(ErrorCode.member_id_required, member_id))
        else:
            self._add_member_and_rebalance(group, p, member_id, respond, now)

    def _join_known_member(self, group: Group, p: JoinParams, respond: JoinCallback, now: int) -> None:
        if p.member_id in group.pending_members:
            self._add_member_and_rebalance(group, p, p.member_id, respond, now)
            return
        error = self._validate_member(group, p.member_id, p.group_instance_id)
        if error != ErrorCode.none:
            respond(JoinResult(error, p.member_id))
            return
        member = group.members[p.member_id]
        member.last_heartbeat_ms = now
        state = group.state
        if state is GroupState.PREPARING_REBALANCE:
            self._update_member_and_rebalance(group, member, p, respond, now)
        elif state is GroupState.COMPLETING_REBALANCE:
            if member.matches(p.protocols):
                respond(self._current_generation(group, member.member_id))
            else:
                self._update_member_and_rebalance(group, member, p, respond, now)
        elif state is GroupState.STABLE:
            # The leader rejoins to reassign (e.g. its regex matched new topics): always a rebalance.
            if member.member_id == group.leader_id or not member.matches(p.protocols):
                self._update_member_and_rebalance(group, member, p, respond, now)
            else:
                respond(self._current_generation(group, member.member_id))
        else:
            respond(JoinResult(ErrorCode.unknown_member_id, p.member_id))

    def _add_member_and_rebalance(
        self, group: Group, p: JoinParams, member_id: str, respond: JoinCallback, now: int
    ) -> None:
        member = Member(
            member_id,
            p.group_instance_id,
            p.client_id,
            p.client_host,
            p.rebalance_timeout_ms,
            p.session_timeout_ms,
            p.protocol_type,
            list(p.protocols),
            last_heartbeat_ms=now,
            is_new=True,
            awaiting_join=respond,
        )
        if group.state is GroupState.PREPARING_REBALANCE and group.generation_id == 0:
            group.new_member_added = True
        group.add(member)
        logger.info("member joined group=%s member=%s", group.group_id, member_id)
        self._maybe_prepare_rebalance(group, now, f"member {member_id} joined")
        self._try_complete_join(group, now)

    def _update_member_and_rebalance(
        self, group: Group, member: Member, p: JoinParams, respond: JoinCallback, now: int
    ) -> None:
        if member.awaiting_join is not None:  # a retried JoinGroup replaces the abandoned one
            member.awaiting_join(JoinResult(ErrorCode.rebalance_in_progress, member.member_id))
        member.protocols = list(p.protocols)
        member.session_timeout_ms = p.session_timeout_ms
        member.rebalance_timeout_ms = p.rebalance_timeout_ms
        member.awaiting_join = respond
        self._maybe_prepare_rebalance(group, now, f"member {member.member_id} rejoined")
        self._try_complete_join(group, now)

    def _replace_static_member(
        self,
        group: Group,
        old_member_id: str,
        new_member_id: str,
        p: JoinParams,
        respond: JoinCallback,
        now: int,
    ) -> None:
        """KIP-345: a static member came back under a new member id; the old incarnation is fenced."""
        instance_id = p.group_instance_id
        assert instance_id is not None
        old = group.members[old_member_id]
        self._fail_pending(old, ErrorCode.fenced_instance_id)
        old_leader = group.leader_id
        previous = (
            old.client_id,
            old.client_host,
            old.session_timeout_ms,
            old.rebalance_timeout_ms,
            old.protocols,
        )
        _rekey_member(group, instance_id, old_member_id, new_member_id)
        old.client_id, old.client_host = p.client_id, p.client_host
        old.session_timeout_ms, old.rebalance_timeout_ms = p.session_timeout_ms, p.rebalance_timeout_ms
        old.protocols = list(p.protocols)
        old.last_heartbeat_ms = now
        logger.info(
            "static member rejoined group=%s instance=%s member=%s replaces=%s",
            group.group_id,
            instance_id,
            new_member_id,
            old_member_id,
        )
        if group.state is GroupState.STABLE and group.select_protocol() == group.protocol_name:
            # No rebalance: once the new member id is replicated, answer with the current generation and
            # the *old* leader id, so the new incarnation never believes it leads a stable group (its
            # assignment would go nowhere). If storing fails, the old member id stays (Kafka reverts too):
            # a coordinator loaded from the log must know the member id the client was given.
            member = old

            def on_stored(error: ErrorCode) -> None:
                if self._groups.get(group.group_id) is not group:
                    respond(JoinResult(ErrorCode.not_coordinator, ""))
                    return
                if error != ErrorCode.none:
                    if group.members.get(new_member_id) is member:
                        _rekey_member(group, instance_id, new_member_id, old_member_id)
                        (
                            member.client_id,
                            member.client_host,
                            member.session_timeout_ms,
                            member.rebalance_timeout_ms,
                            member.protocols,
                        ) = previous
                    respond(JoinResult(error, ""))
                    return
                respond(
                    JoinResult(
                        ErrorCode.none,
                        new_member_id,
                        group.generation_id,
                        group.protocol_type,
                        group.protocol_name,
                        old_leader or "",
                    )
                )

            self._store_group(group, now, on_stored)
            return
        old.awaiting_join = respond
        self._maybe_prepare_rebalance(group, now, f"static member {p.group_instance_id} rejoined")
        self._try_complete_join(group, now)


def _rekey_member(group: Group, instance_id: str, from_id: str, to_id: str) -> None:
    """Give a static member another member id, everywhere the group refers to it."""
    member = group.members.pop(from_id)
    member.member_id = to_id
    group.members[to_id] = member
    group.static_members[instance_id] = to_id
    if group.leader_id == from_id:
        group.leader_id = to_id
    if from_id in group.pending_sync:
        group.pending_sync.discard(from_id)
        group.pending_sync.add(to_id)
