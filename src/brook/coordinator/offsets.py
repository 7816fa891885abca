"""Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, group deletion, KIP-211 expiration and the
removal of a deleted topic's offsets."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import offsets_topic as ot
from brook.coordinator.api import CommitCallback, Records
from brook.coordinator.group import Group, GroupState, OffsetAndMetadata
from brook.coordinator.state import CoordinatorState, offset_commit_error

logger = logging.getLogger(__name__)

__all__ = ["Offsets"]


class Offsets(CoordinatorState):
    def commit_offsets(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: dict[TopicPartition, tuple[int, int, str | None]],
        respond: CommitCallback,
        *,
        retention_ms: int = -1,
    ) -> None:
        """Commit (offset, leader_epoch, metadata) per partition; `respond(group_error, per_partition)`
        once the offsets topic's ISR has the commit or the write failed. A group error applies to every
        partition. OffsetFetch sees a commit only after it succeeded (Kafka's pending offset commits)."""
        now = self._clock.now_ms()
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            respond(error, {})
            return
        group = self._groups.get(group_id)
        if group is None:
            if generation_id >= 0 or member_id or group_instance_id is not None:
                respond(ErrorCode.unknown_member_id, {})
                return
            group = self._new_group(group_id, now)  # a "simple" group: offsets only, no members
        error = self._validate_commit(group, generation_id, member_id, group_instance_id)
        if error != ErrorCode.none:
            respond(error, {})
            return
        if member_id in group.members:
            group.members[member_id].last_heartbeat_ms = now
        self._store_offsets(group, offsets, retention_ms, now, respond)

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
        respond: CommitCallback,
    ) -> None:
        results: dict[TopicPartition, ErrorCode] = {}
        accepted: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, (offset, leader_epoch, metadata) in offsets.items():
            text = metadata or ""
            if len(text.encode()) > self.config.offset_metadata_max_bytes:
                results[tp] = ErrorCode.offset_metadata_too_large
                continue
            expire = now + retention_ms if retention_ms >= 0 else -1
            accepted[tp] = OffsetAndMetadata(offset, leader_epoch, text, now, expire)
        if not accepted:
            respond(ErrorCode.none, results)
            return
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
        seq = self._next_write_seq()
        for tp in accepted:
            group.pending_commits.setdefault(tp, set()).add(seq)

        def on_replicated(code: ErrorCode) -> None:
            error = self._complete_commit(group, accepted, seq, offset_commit_error(code))
            results.update(dict.fromkeys(accepted, error))
            respond(ErrorCode.none, results)

        try:
            self._writer.append(self.partition_for(group.group_id), records, on_replicated)
        except BrookError as exc:
            logger.warning("offset commit failed group=%s: %s", group.group_id, exc)
            on_replicated(exc.error_code)

    def _complete_commit(
        self, group: Group, accepted: dict[TopicPartition, OffsetAndMetadata], seq: int, error: ErrorCode
    ) -> ErrorCode:
        """Kafka's onOffsetCommitAppend / failPendingOffsetWrite: the cache takes a commit only once it
        is replicated, never over a newer write, and never after the group left this coordinator.
        Unlike Kafka, every commit in flight is tracked, not only the newest: an older commit that
        succeeds after a newer one failed is still visible (it was acknowledged)."""
        current = self._groups.get(group.group_id) is group and group.state is not GroupState.DEAD
        for tp, om in accepted.items():
            pending = group.pending_commits.get(tp)
            if pending is None or seq not in pending:
                continue  # its offsets were deleted meanwhile
            pending.discard(seq)
            if not pending:
                del group.pending_commits[tp]
            if error == ErrorCode.none and current and seq > group.offset_write_seqs.get(tp, 0):
                group.offsets[tp] = om
                group.offset_write_seqs[tp] = seq
        if error == ErrorCode.none and not current:
            return ErrorCode.not_coordinator  # unloaded while waiting: the new coordinator has it
        if error != ErrorCode.none:
            logger.warning("offset commit not replicated group=%s error=%s", group.group_id, error.name)
        return error

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
            return offset_commit_error(exc.error_code), {}
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
                group.offset_write_seqs.pop(tp, None)
                group.pending_commits.pop(tp, None)  # a commit still in flight does not bring it back

    def _delete_group(self, group: Group) -> ErrorCode:
        records: Records = [
            (ot.encode_offset_commit_key(group.group_id, tp.topic, tp.partition), None)
            for tp in group.offsets
        ]
        records.append((ot.encode_group_metadata_key(group.group_id), None))
        try:
            self._writer.append(self.partition_for(group.group_id), records)
        except BrookError as exc:
            return offset_commit_error(exc.error_code)
        group.transition_to(GroupState.DEAD, self._clock.now_ms())
        self._groups.pop(group.group_id, None)
        logger.info("deleted group group=%s", group.group_id)
        return ErrorCode.none

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
            if (
                group.state is GroupState.EMPTY
                and not group.offsets
                and not group.pending_members
                and not group.pending_commits
            ):
                self._delete_group(group)

    def remove_deleted_topics(self, topics: Collection[str], partition: int | None = None) -> int:
        """Kafka's handleDeletedPartitions: the committed offsets of deleted topics leave every group this
        coordinator serves (tombstones in `__consumer_offsets`, so a restart or a failover does not bring
        them back), and a group left empty with no offset goes Dead (its metadata gets a tombstone too).
        With `partition`, only the groups of that `__consumer_offsets` partition.

        Groups of a partition still loading get the same treatment once it is loaded (finish_loading).
        Returns how many offsets were removed."""
        deleted = frozenset(topics)
        if not deleted:
            return 0
        for loading in self._loading:
            if partition is None or loading == partition:
                self._deleted_while_loading.setdefault(loading, set()).update(deleted)
        removed = 0
        for group in list(self._groups.values()):
            p = self.partition_for(group.group_id)
            if p in self._owned and p not in self._loading and partition in (None, p):
                removed += self._remove_topics(group, deleted)
        return removed

    def committed_offsets(self) -> list[tuple[str, TopicPartition, int]]:
        """(group, partition, committed offset) for every group this coordinator serves (loaded partitions
        only): the broker's lag metrics read them."""
        return [
            (group.group_id, tp, committed.offset)
            for group in list(self._groups.values())
            if (p := self.partition_for(group.group_id)) in self._owned and p not in self._loading
            for tp, committed in group.offsets.items()
        ]

    def committed_topics(self, partition: int) -> set[str]:
        """The topics the groups of one `__consumer_offsets` partition have offsets (or commits in flight) for."""
        return {
            tp.topic
            for group in self._groups_in(partition)
            for tp in (*group.offsets, *group.pending_commits)
        }

    def _remove_topics(self, group: Group, topics: frozenset[str]) -> int:
        # A commit still waiting for the ISR was appended before this tombstone: the log keeps it deleted.
        doomed = sorted({tp for tp in (*group.offsets, *group.pending_commits) if tp.topic in topics})
        if not doomed:
            return 0
        try:
            self._remove_offsets(group, doomed)
        except BrookError as exc:
            logger.warning("removing offsets of deleted topics failed group=%s: %s", group.group_id, exc)
            return 0
        logger.info(
            "removed offsets of deleted topics group=%s partitions=%d topics=%s",
            group.group_id,
            len(doomed),
            ",".join(sorted({tp.topic for tp in doomed})),
        )
        if (
            group.state is GroupState.EMPTY
            and not group.offsets
            and not group.pending_members
            and not group.pending_commits
        ):
            self._delete_group(group)  # Kafka: an Empty group without offsets transitions to Dead
        return len(doomed)

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
