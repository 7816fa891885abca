"""One consumer group's state: members, generation, selected protocol and committed offsets.

Plain objects owned by `GroupCoordinator`; nothing here decides a transition, it only records one.
States follow Kafka's classic protocol: Empty → PreparingRebalance → CompletingRebalance → Stable,
and Dead once the group is deleted or expired.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from brook.common.types import TopicPartition

__all__ = ["Group", "GroupState", "Member", "OffsetAndMetadata"]


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


# Kafka's GroupMetadata.validPreviousStates
_VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.PREPARING_REBALANCE: frozenset(
        {GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY}
    ),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.DEAD: frozenset(
        {
            GroupState.STABLE,
            GroupState.PREPARING_REBALANCE,
            GroupState.COMPLETING_REBALANCE,
            GroupState.EMPTY,
            GroupState.DEAD,
        }
    ),
}


@dataclass(slots=True)
class OffsetAndMetadata:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp_ms: int
    expire_timestamp_ms: int = -1  # only OffsetCommit v2-4 with an explicit retention_time set it


@dataclass(eq=False, slots=True)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    last_heartbeat_ms: int = 0
    is_new: bool = False
    # Pending JoinGroup / SyncGroup responses; the coordinator completes them exactly once.
    awaiting_join: Callable[[Any], None] | None = None
    awaiting_sync: Callable[[Any], None] | None = None

    def metadata_for(self, protocol: str) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        raise KeyError(protocol)

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return self.protocols == protocols


@dataclass(eq=False, slots=True)
class Group:
    group_id: str
    state: GroupState = GroupState.EMPTY
    state_timestamp_ms: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    generation_id: int = 0
    leader_id: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    # Member ids handed out with MEMBER_ID_REQUIRED, valid until their deadline (KIP-394).
    pending_members: dict[str, int] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)  # group.instance.id -> member id
    offsets: dict[TopicPartition, OffsetAndMetadata] = field(default_factory=dict)
    # Kafka's pendingOffsetCommits: the commits per partition still waiting for the ISR, and which
    # write the cached offset came from (the coordinator's append sequences; 0 = replayed).
    pending_commits: dict[TopicPartition, set[int]] = field(default_factory=dict)
    offset_write_seqs: dict[TopicPartition, int] = field(default_factory=dict)
    # Kafka's pendingTransactionalOffsetCommits: producer id -> offsets (and their write sequence) until the
    # transaction's marker (coordinator/txn_offsets.py)
    pending_txn_offsets: dict[int, dict[TopicPartition, tuple[OffsetAndMetadata, int]]] = field(
        default_factory=dict
    )
    # Timers, as absolute deadlines checked by GroupCoordinator.tick.
    join_deadline_ms: int | None = None
    initial_delay_active: bool = False  # Kafka's InitialDelayedJoin: wait for more members first
    initial_delay_remaining_ms: int = 0  # how much longer the initial delay may still extend
    new_member_added: bool = False
    sync_deadline_ms: int | None = None
    pending_sync: set[str] = field(default_factory=set)

    def transition_to(self, state: GroupState, now_ms: int) -> None:
        assert self.state in _VALID_PREVIOUS[state], f"group {self.group_id}: {self.state} -> {state}"
        self.state = state
        self.state_timestamp_ms = now_ms

    def is_in(self, *states: GroupState) -> bool:
        return self.state in states

    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if self.leader_id is None:
            self.leader_id = member.member_id
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        self.pending_members.pop(member.member_id, None)

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        instance_id = member.group_instance_id
        if instance_id is not None and self.static_members.get(instance_id) == member_id:
            del self.static_members[instance_id]
        self.pending_sync.discard(member_id)
        if self.leader_id == member_id:
            self.leader_id = next(
                (m.member_id for m in self.members.values() if m.awaiting_join is not None),
                next(iter(self.members), None),
            )
        return member

    def awaiting_join_count(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join is not None)

    def has_all_members_joined(self) -> bool:
        return len(self.members) == self.awaiting_join_count() and not self.pending_members

    def candidate_protocols(self) -> set[str]:
        """Protocols every member supports (intersection)."""
        members = iter(self.members.values())
        first = next(members, None)
        if first is None:
            return set()
        candidates = set(first.protocol_names())
        for m in members:
            candidates &= set(m.protocol_names())
        return candidates

    def supports_protocols(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        names = {name for name, _ in protocols}
        if not self.members:
            return bool(protocol_type) and bool(names)
        return protocol_type == self.protocol_type and bool(names & self.candidate_protocols())

    def select_protocol(self) -> str:
        """Kafka's vote: each member votes for its most preferred candidate; most votes wins."""
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for m in self.members.values():
            choice = next(name for name in m.protocol_names() if name in candidates)
            votes[choice] = votes.get(choice, 0) + 1
        # Ties go to the leader's (first member's) order, keeping the choice deterministic.
        first = next(iter(self.members.values()))
        return max(first.protocol_names(), key=lambda name: votes.get(name, -1))

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def static_member_id(self, instance_id: str | None) -> str | None:
        return None if instance_id is None else self.static_members.get(instance_id)

    def is_static_member_fenced(self, member_id: str, instance_id: str | None) -> bool:
        """A known instance id bound to another member id: the caller is an old incarnation."""
        current = self.static_member_id(instance_id)
        return current is not None and current != member_id
