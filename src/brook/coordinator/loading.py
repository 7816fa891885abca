"""Ownership of `__consumer_offsets` partitions and rebuilding their groups from the log (replay)."""

from __future__ import annotations

import logging

from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import offsets_topic as ot
from brook.coordinator.group import Group, GroupState, Member, OffsetAndMetadata
from brook.coordinator.state import CoordinatorState

logger = logging.getLogger(__name__)

__all__ = ["Loading"]


class Loading(CoordinatorState):
    @property
    def owned_partitions(self) -> frozenset[int]:
        return frozenset(self._owned)

    def is_loading(self, partition: int) -> bool:
        return partition in self._loading

    def owned_epoch(self, partition: int) -> int | None:
        """The leader epoch `partition` was loaded (or is loading) in; None if not owned."""
        return self._owned.get(partition)

    def begin_loading(self, partition: int, leader_epoch: int = 0) -> None:
        """This broker now leads `partition` in `leader_epoch`: answer COORDINATOR_LOAD_IN_PROGRESS until
        finish_loading. The caller replays the log up to its log end offset (Kafka's rule: everything the
        old leader acknowledged is in the new leader's log, but maybe above its high watermark)."""
        if partition in self._owned:
            self.unload(partition)
        self._owned[partition] = leader_epoch
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
        group = Group(
            group_id,
            offsets=old.offsets if old else {},
            pending_txn_offsets=old.pending_txn_offsets if old else {},
        )
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
        """Leadership of `partition` moved away: drop its groups, failing their pending calls. Commits
        still waiting for the ISR then answer NOT_COORDINATOR and change nothing."""
        for group in self._groups_in(partition):
            for member in group.members.values():
                self._fail_pending(member, ErrorCode.not_coordinator)
            del self._groups[group.group_id]
        self._owned.pop(partition, None)
        self._loading.discard(partition)
