"""GroupCoordinator: Kafka's classic consumer-group protocol and committed offsets, as a state machine.

No sockets, no asyncio, no wall clock. The broker drives it:
- request methods take plain arguments and return results, except JoinGroup and SyncGroup whose answer
  may wait for the rebalance: those take a `respond` callback that the coordinator calls exactly once;
- `tick(now_ms)` fires the timers (session, rebalance, sync, initial delay, offset retention);
- writes to `__consumer_offsets` go through an `OffsetsWriter`, synchronously: a commit is acknowledged
  only after its records were appended;
- `begin_loading` / `replay` / `finish_loading` rebuild the state of a partition from its log.

Semantics follow Kafka's GroupCoordinator.scala / GroupMetadata.scala (KIP-345 static membership,
KIP-394 MEMBER_ID_REQUIRED, KIP-211 offset retention of empty groups). Owned by the event loop.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from brook.common.clock import Clock
from brook.common.errors import BrookError, ErrorCode, MessageTooLarge, NotLeaderOrFollower
from brook.common.types import TopicPartition
from brook.coordinator import offsets_topic as ot
from brook.coordinator.group import Group, GroupState, Member, OffsetAndMetadata

logger = logging.getLogger(__name__)

__all__ = [
    "CoordinatorConfig",
    "GroupCoordinator",
    "GroupDescription",
    "JoinParams",
    "JoinResult",
    "OffsetsWriter",
    "SyncResult",
]

Records = list[tuple[bytes, bytes | None]]
_MAX_PROTOCOLS = 64


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


class GroupCoordinator:
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

    @property
    def owned_partitions(self) -> frozenset[int]:
        return frozenset(self._owned)

    def is_loading(self, partition: int) -> bool:
        return partition in self._loading

    def begin_loading(self, partition: int) -> None:
        """This broker now leads `partition`: answer COORDINATOR_LOAD_IN_PROGRESS until finish_loading."""
        self._owned.add(partition)
        self._loading.add(partition)

    def replay(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of the partition's log (in log order). Unknown or damaged records are skipped."""
        if key is None:
            return
        try:
            decoded = ot.decode_key(key)
            if isinstance(decoded, ot.OffsetCommitKey):
                self._replay_offset(decoded, value)
            elif isinstance(decoded, ot.GroupMetadataKey):
                self._replay_group(decoded.group, value)
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("skipping unreadable __consumer_offsets record partition=%d: %s", partition, exc)

    def _replay_offset(self, key: ot.OffsetCommitKey, value: bytes | None) -> None:
        tp = TopicPartition(key.topic, key.partition)
        if value is None:
            group = self._groups.get(key.group)
            if group is not None:
                group.offsets.pop(tp, None)
            return
        v = ot.decode_offset_commit_value(value)
        group = self._groups.get(key.group) or self._new_group(key.group, -1)
        group.offsets[tp] = OffsetAndMetadata(
            v.offset, v.leader_epoch, v.metadata, v.commit_timestamp, v.expire_timestamp
        )

    def _replay_group(self, group_id: str, value: bytes | None) -> None:
        if value is None:
            self._groups.pop(group_id, None)
            return
        v = ot.decode_group_metadata_value(value)
        old = self._groups.get(group_id)
        group = Group(group_id, offsets=old.offsets if old else {})
        group.protocol_type = v.protocol_type or None
        group.protocol_name = v.protocol
        group.generation_id = v.generation
        group.state_timestamp_ms = v.current_state_timestamp
        for m in v.members:
            protocols = [(v.protocol, m.subscription)] if v.protocol else []
            group.add(
                Member(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    m.rebalance_timeout_ms,
                    m.session_timeout_ms,
                    v.protocol_type,
                    protocols,
                    assignment=m.assignment,
                )
            )
        group.leader_id = v.leader if v.leader in group.members else group.leader_id
        group.state = GroupState.STABLE if group.members else GroupState.EMPTY
        self._groups[group_id] = group

    def finish_loading(self, partition: int) -> None:
        now = self._clock.now_ms()
        for group in self._groups_in(partition):
            for member in group.members.values():
                member.last_heartbeat_ms = now  # restored members get a full session to come back
        self._loading.discard(partition)
        groups = len(self._groups_in(partition))
        if groups:
            logger.info("loaded __consumer_offsets partition=%d groups=%d", partition, groups)

    def unload(self, partition: int) -> None:
        """Leadership of `partition` moved away: drop its groups, failing their pending calls."""
        for group in self._groups_in(partition):
            for member in group.members.values():
                self._fail_pending(member, ErrorCode.not_coordinator)
            del self._groups[group.group_id]
        self._owned.discard(partition)
        self._loading.discard(partition)

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

    # --- JoinGroup -----------------------------------------------------------------------------

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
        if not group.members and not group.offsets and not group.pending_members:
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
        old = group.members.pop(old_member_id)
        self._fail_pending(old, ErrorCode.fenced_instance_id)
        old_leader = group.leader_id
        old.member_id = new_member_id
        old.client_id, old.client_host = p.client_id, p.client_host
        old.session_timeout_ms, old.rebalance_timeout_ms = p.session_timeout_ms, p.rebalance_timeout_ms
        old.protocols = list(p.protocols)
        old.last_heartbeat_ms = now
        group.members[new_member_id] = old
        assert p.group_instance_id is not None
        group.static_members[p.group_instance_id] = new_member_id
        if group.leader_id == old_member_id:
            group.leader_id = new_member_id
        if old_member_id in group.pending_sync:
            group.pending_sync.discard(old_member_id)
            group.pending_sync.add(new_member_id)
        logger.info(
            "static member rejoined group=%s instance=%s member=%s replaces=%s",
            group.group_id,
            p.group_instance_id,
            new_member_id,
            old_member_id,
        )
        if group.state is GroupState.STABLE and group.select_protocol() == group.protocol_name:
            # No rebalance: answer with the current generation and the *old* leader id, so the new
            # incarnation never believes it leads a stable group (its assignment would go nowhere).
            self._store_group(group, now)
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
            return
        old.awaiting_join = respond
        self._maybe_prepare_rebalance(group, now, f"static member {p.group_instance_id} rejoined")
        self._try_complete_join(group, now)

    # --- rebalance -----------------------------------------------------------------------------

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

    # --- SyncGroup, Heartbeat, LeaveGroup ------------------------------------------------------

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
        for m in group.members.values():
            m.assignment = assignments.get(m.member_id, b"")
        try:
            self._store_group(group, now, raise_errors=True)
        except BrookError as exc:
            error = _coordinator_error(exc)
            logger.warning("failed to store group group=%s: %s", group.group_id, exc)
            self._reset_and_propagate_assignment_error(group, error)
            self._prepare_rebalance(group, now, "storing the assignment failed")
            self._try_complete_join(group, now)
            return
        group.transition_to(GroupState.STABLE, now)
        for m in group.members.values():
            callback = m.awaiting_sync
            m.awaiting_sync = None
            if callback is not None:
                callback(SyncResult(ErrorCode.none, m.assignment, group.protocol_type, group.protocol_name))

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

    # --- offsets -------------------------------------------------------------------------------

    def commit_offsets(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: dict[TopicPartition, tuple[int, int, str | None]],
        *,
        retention_ms: int = -1,
    ) -> tuple[ErrorCode, dict[TopicPartition, ErrorCode]]:
        """Commit (offset, leader_epoch, metadata) per partition. A group error applies to every partition."""
        now = self._clock.now_ms()
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            return error, {}
        group = self._groups.get(group_id)
        if group is None:
            if generation_id >= 0 or member_id or group_instance_id is not None:
                return ErrorCode.unknown_member_id, {}
            group = self._new_group(group_id, now)  # a "simple" group: offsets only, no members
        error = self._validate_commit(group, generation_id, member_id, group_instance_id)
        if error != ErrorCode.none:
            return error, {}
        if member_id in group.members:
            group.members[member_id].last_heartbeat_ms = now
        return ErrorCode.none, self._store_offsets(group, offsets, retention_ms, now)

    def _validate_commit(
        self, group: Group, generation_id: int, member_id: str, instance_id: str | None
    ) -> ErrorCode:
        if group.state is GroupState.DEAD:
            return ErrorCode.coordinator_not_available
        if generation_id >= 0 or member_id or instance_id is not None:
            error = self._validate_member(group, member_id, instance_id)
            if error != ErrorCode.none:
                return error
            if generation_id != group.generation_id:
                return ErrorCode.illegal_generation
        elif group.state is not GroupState.EMPTY:
            return ErrorCode.unknown_member_id  # only members may commit to a group that has members
        if group.state is GroupState.COMPLETING_REBALANCE:
            return ErrorCode.rebalance_in_progress
        return ErrorCode.none

    def _store_offsets(
        self,
        group: Group,
        offsets: dict[TopicPartition, tuple[int, int, str | None]],
        retention_ms: int,
        now: int,
    ) -> dict[TopicPartition, ErrorCode]:
        results: dict[TopicPartition, ErrorCode] = {}
        accepted: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, (offset, leader_epoch, metadata) in offsets.items():
            text = metadata or ""
            if len(text.encode()) > self.config.offset_metadata_max_bytes:
                results[tp] = ErrorCode.offset_metadata_too_large
                continue
            expire = now + retention_ms if retention_ms >= 0 else -1
            accepted[tp] = OffsetAndMetadata(offset, leader_epoch, text, now, expire)
        if accepted:
            records: Records = [
                (
                    ot.encode_offset_commit_key(group.group_id, tp.topic, tp.partition),
                    ot.encode_offset_commit_value(
                        ot.OffsetCommitValue(
                            om.offset,
                            om.leader_epoch,
                            om.metadata,
                            om.commit_timestamp_ms,
                            om.expire_timestamp_ms,
                        )
                    ),
                )
                for tp, om in accepted.items()
            ]
            try:
                self._writer.append(self.partition_for(group.group_id), records)
            except BrookError as exc:
                logger.warning("offset commit failed group=%s: %s", group.group_id, exc)
                error = _coordinator_error(exc)
                results.update(dict.fromkeys(accepted, error))
                return results
            group.offsets.update(accepted)
            results.update(dict.fromkeys(accepted, ErrorCode.none))
        return results

    def fetch_offsets(
        self, group_id: str, partitions: list[TopicPartition] | None
    ) -> tuple[ErrorCode, list[tuple[TopicPartition, OffsetAndMetadata | None]]]:
        """Committed offsets; `partitions` None means all of the group's. Never a stale value:
        while the group's partition loads, the answer is COORDINATOR_LOAD_IN_PROGRESS."""
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            return error, []
        group = self._groups.get(group_id)
        offsets = group.offsets if group is not None else {}
        if partitions is None:
            return ErrorCode.none, sorted(offsets.items())
        return ErrorCode.none, [(tp, offsets.get(tp)) for tp in partitions]

    def delete_offsets(
        self, group_id: str, partitions: list[TopicPartition]
    ) -> tuple[ErrorCode, dict[TopicPartition, ErrorCode]]:
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            return error, {}
        group = self._groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return ErrorCode.group_id_not_found, {}
        subscribed: set[str] = set()
        if group.state is not GroupState.EMPTY:
            topics = self._subscribed_topics(group)
            if topics is None:
                return ErrorCode.non_empty_group, {}
            subscribed = topics
        results: dict[TopicPartition, ErrorCode] = {}
        doomed = []
        for tp in partitions:
            if tp.topic in subscribed:
                results[tp] = ErrorCode.group_subscribed_to_topic
            else:
                results[tp] = ErrorCode.none
                if tp in group.offsets:
                    doomed.append(tp)
        try:
            self._remove_offsets(group, doomed)
        except BrookError as exc:
            return _coordinator_error(exc), {}
        return ErrorCode.none, results

    def _subscribed_topics(self, group: Group) -> set[str] | None:
        """Union of the members' subscribed topics (consumer protocol only); None if unknown."""
        if group.protocol_type != "consumer":
            return None
        topics: set[str] = set()
        for m in group.members.values():
            if not m.protocols:
                return None
            name = group.protocol_name if group.protocol_name in m.protocol_names() else m.protocols[0][0]
            member_topics = ot.subscribed_topics(m.metadata_for(name))
            if member_topics is None:
                return None
            topics |= member_topics
        return topics

    def _remove_offsets(self, group: Group, partitions: Iterable[TopicPartition]) -> None:
        records: Records = [
            (ot.encode_offset_commit_key(group.group_id, tp.topic, tp.partition), None) for tp in partitions
        ]
        if records:
            self._writer.append(self.partition_for(group.group_id), records)
            for tp in partitions:
                group.offsets.pop(tp, None)

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

    # --- admin ---------------------------------------------------------------------------------

    def list_groups(self, states: Iterable[str] = ()) -> tuple[ErrorCode, list[tuple[str, str, str]]]:
        """(group_id, protocol_type, state) of every group here, optionally filtered by state name."""
        if self._loading:
            return ErrorCode.coordinator_load_in_progress, []
        wanted = {s.lower() for s in states}
        return ErrorCode.none, [
            (g.group_id, g.protocol_type or "", g.state.value)
            for g in self._groups.values()
            if g.state is not GroupState.DEAD and (not wanted or g.state.value.lower() in wanted)
        ]

    def describe_group(self, group_id: str) -> tuple[ErrorCode, GroupDescription | None]:
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            return error, None
        group = self._groups.get(group_id)
        if group is None:
            return ErrorCode.none, GroupDescription(group_id, GroupState.DEAD.value, "", "", [])
        stable = group.state is GroupState.STABLE and group.protocol_name is not None
        members = [
            MemberDescription(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.metadata_for(group.protocol_name) if stable and group.protocol_name else b"",
                m.assignment if stable else b"",
            )
            for m in group.members.values()
        ]
        return ErrorCode.none, GroupDescription(
            group_id,
            group.state.value,
            group.protocol_type or "",
            group.protocol_name if stable and group.protocol_name else "",
            members,
        )

    def delete_groups(self, group_ids: list[str]) -> dict[str, ErrorCode]:
        results: dict[str, ErrorCode] = {}
        for group_id in group_ids:
            error = self._check_group_id(group_id)
            group = self._groups.get(group_id)
            if error == ErrorCode.none:
                if group is None or group.state is GroupState.DEAD:
                    error = ErrorCode.group_id_not_found
                elif group.state is not GroupState.EMPTY:
                    error = ErrorCode.non_empty_group
            if error == ErrorCode.none and group is not None:
                error = self._delete_group(group)
            results[group_id] = error
        return results

    def _delete_group(self, group: Group) -> ErrorCode:
        records: Records = [
            (ot.encode_offset_commit_key(group.group_id, tp.topic, tp.partition), None)
            for tp in group.offsets
        ]
        records.append((ot.encode_group_metadata_key(group.group_id), None))
        try:
            self._writer.append(self.partition_for(group.group_id), records)
        except BrookError as exc:
            return _coordinator_error(exc)
        group.transition_to(GroupState.DEAD, self._clock.now_ms())
        self._groups.pop(group.group_id, None)
        logger.info("deleted group group=%s", group.group_id)
        return ErrorCode.none

    # --- timers --------------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        """Fire every timer whose deadline has passed. Call often (the broker: every ~100 ms)."""
        for group in list(self._groups.values()):
            if self.partition_for(group.group_id) in self._loading:
                continue
            self._expire_pending_members(group, now_ms)
            self._expire_members(group, now_ms)
            self._check_join_deadline(group, now_ms)
            self._check_sync_deadline(group, now_ms)
        if self._next_retention_check_ms is None:
            self._next_retention_check_ms = now_ms + self.config.offsets_retention_check_interval_ms
        elif now_ms >= self._next_retention_check_ms:
            self._next_retention_check_ms = now_ms + self.config.offsets_retention_check_interval_ms
            self.expire_offsets(now_ms)

    def _expire_pending_members(self, group: Group, now: int) -> None:
        expired = [mid for mid, deadline in group.pending_members.items() if now >= deadline]
        for member_id in expired:
            del group.pending_members[member_id]
        if expired:
            self._try_complete_join(group, now)
            if not group.members and not group.offsets and group.state is GroupState.EMPTY:
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

    def expire_offsets(self, now_ms: int) -> None:
        """KIP-211: offsets of empty groups expire `offsets.retention.ms` after the group became empty."""
        for group in list(self._groups.values()):
            partition = self.partition_for(group.group_id)
            if partition in self._loading or partition not in self._owned:
                continue
            expired = self._expired_offsets(group, now_ms)
            try:
                self._remove_offsets(group, expired)
            except BrookError as exc:
                logger.warning("offset expiration failed group=%s: %s", group.group_id, exc)
                continue
            if expired:
                logger.info("expired offsets group=%s partitions=%d", group.group_id, len(expired))
            if group.state is GroupState.EMPTY and not group.offsets and not group.pending_members:
                self._delete_group(group)

    def _expired_offsets(self, group: Group, now: int) -> list[TopicPartition]:
        retention = self.config.offsets_retention_ms
        if group.state is GroupState.EMPTY:
            topics: set[str] | None = None
        elif group.state is GroupState.STABLE:
            topics = self._subscribed_topics(group)
            if topics is None:
                return []
        else:
            return []
        expired = []
        for tp, om in group.offsets.items():
            if topics is not None and tp.topic in topics:
                continue
            if om.expire_timestamp_ms >= 0:
                if now >= om.expire_timestamp_ms:
                    expired.append(tp)
                continue
            base = om.commit_timestamp_ms
            if group.state is GroupState.EMPTY and group.protocol_type is not None:
                base = max(group.state_timestamp_ms, om.commit_timestamp_ms)
            if now - base >= retention:
                expired.append(tp)
        return expired


def _coordinator_error(exc: BrookError) -> ErrorCode:
    """What a client should see when appending to `__consumer_offsets` failed (retriable if possible)."""
    if isinstance(exc, NotLeaderOrFollower):
        return ErrorCode.not_coordinator
    if isinstance(exc, MessageTooLarge):
        return ErrorCode.invalid_commit_offset_size
    return ErrorCode.coordinator_not_available
