"""GroupCoordinator: Kafka's classic consumer-group protocol and committed offsets, as a state machine.

No sockets, no asyncio, no wall clock. The broker drives it:
- request methods take plain arguments and return results, except JoinGroup, SyncGroup and OffsetCommit
  whose answer waits (for the rebalance, or for the offsets topic's ISR): those take a `respond`
  callback that the coordinator calls exactly once;
- `tick(now_ms)` fires the timers (session, rebalance, sync, initial delay, offset retention);
- writes to `__consumer_offsets` go through an `OffsetsWriter`; a commit or an assignment is answered,
  and enters the cache, only once the partition's ISR has it (Kafka's acks=-1 for the offsets topic);
- `begin_loading` / `replay` / `finish_loading` rebuild the state of a partition from its log, and a
  `Leadership` query, asked on every request, keeps a coordinator that lost the partition from
  answering out of its old cache.

Semantics follow Kafka's GroupCoordinator.scala / GroupMetadata.scala (KIP-345 static membership,
KIP-394 MEMBER_ID_REQUIRED, KIP-211 offset retention of empty groups). Owned by the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from brook.common.errors import ErrorCode
from brook.coordinator.api import (
    CoordinatorConfig,
    GroupDescription,
    JoinParams,
    JoinResult,
    MemberDescription,
    OffsetsWriter,
    SyncResult,
)
from brook.coordinator.group import GroupState
from brook.coordinator.join import Joining
from brook.coordinator.loading import Loading
from brook.coordinator.membership import Membership
from brook.coordinator.offsets import Offsets
from brook.coordinator.txn_offsets import TxnOffsets

__all__ = [
    "CoordinatorConfig",
    "GroupCoordinator",
    "GroupDescription",
    "JoinParams",
    "JoinResult",
    "OffsetsWriter",
    "SyncResult",
]


class GroupCoordinator(Joining, Membership, Offsets, TxnOffsets, Loading):
    """The group APIs; each concept lives in its own module (join, rebalance, membership, offsets, loading)."""

    def list_groups(self, states: Iterable[str] = ()) -> tuple[ErrorCode, list[tuple[str, str, str]]]:
        """(group_id, protocol_type, state) of every group here, optionally filtered by state name."""
        if self._loading:
            return ErrorCode.coordinator_load_in_progress, []
        wanted = {s.lower() for s in states}
        return ErrorCode.none, [
            (g.group_id, g.protocol_type or "", g.state.value)
            for g in self._groups.values()
            if g.state is not GroupState.DEAD
            and (not wanted or g.state.value.lower() in wanted)
            and self._check_partition(self.partition_for(g.group_id)) == ErrorCode.none
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

    def finish_loading(self, partition: int) -> None:
        super().finish_loading(partition)
        deleted = self._deleted_while_loading.pop(partition, None)
        if deleted:
            for group in self._groups_in(partition):
                self._remove_topics(group, frozenset(deleted))

    def unload(self, partition: int) -> None:
        super().unload(partition)
        self._deleted_while_loading.pop(partition, None)

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
