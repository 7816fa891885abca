"""Transactional offset commits (TxnOffsetCommit, KIP-98/KIP-447): offsets a transactional producer commits
for a group wait, per producer id, until its transaction ends.

They are written to `__consumer_offsets` in a transactional batch of that producer (acks=all). When the
transaction coordinator's COMMIT marker lands on the group's partition they become the group's committed
offsets; an ABORT drops them. Meanwhile OffsetFetch shows the previous offsets, and with require_stable
answers UNSTABLE_OFFSET_COMMIT for those partitions (Kafka's pendingTransactionalOffsetCommits). Loading
a partition replays the same: transactional records wait for their marker in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, cast

from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import offsets_topic as ot
from brook.coordinator.api import CommitCallback, Records, ReplicatedCallback
from brook.coordinator.group import Group, GroupState, OffsetAndMetadata
from brook.coordinator.state import CoordinatorState, offset_commit_error

logger = logging.getLogger(__name__)

__all__ = ["TxnOffsets", "TxnOffsetsWriter"]


class TxnOffsetsWriter(Protocol):
    def append_transactional(
        self,
        partition: int,
        records: Records,
        producer_id: int,
        producer_epoch: int,
        on_replicated: ReplicatedCallback,
    ) -> None:
        """Append `records` to a `__consumer_offsets` partition we lead as one transactional batch of the
        producer, acks=all (as OffsetsWriter.append with a callback)."""
        ...


class TxnOffsets(CoordinatorState):
    def txn_commit_offsets(
        self,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: dict[TopicPartition, tuple[int, int, str | None]],
        respond: CommitCallback,
    ) -> None:
        """Kafka's handleTxnCommitOffsets: `respond(group_error, per_partition)` once written (or failed)."""
        now = self._clock.now_ms()
        error = self._check_group_id(group_id)
        if error != ErrorCode.none:
            respond(error, {})
            return
        group = self._groups.get(group_id)
        if group is None:
            if generation_id >= 0:
                respond(ErrorCode.illegal_generation, {})
                return
            group = self._new_group(group_id, now)
        error = self._validate_txn_commit(group, generation_id, member_id, group_instance_id)
        if error != ErrorCode.none:
            respond(error, {})
            return
        results: dict[TopicPartition, ErrorCode] = {}
        accepted: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, (offset, leader_epoch, metadata) in offsets.items():
            text = metadata or ""
            if len(text.encode()) > self.config.offset_metadata_max_bytes:
                results[tp] = ErrorCode.offset_metadata_too_large
                continue
            accepted[tp] = OffsetAndMetadata(offset, leader_epoch, text, now, -1)
        if not accepted:
            respond(ErrorCode.none, results)
            return
        records: Records = [
            (
                ot.encode_offset_commit_key(group.group_id, tp.topic, tp.partition),
                ot.encode_offset_commit_value(
                    ot.OffsetCommitValue(om.offset, om.leader_epoch, om.metadata, om.commit_timestamp_ms, -1)
                ),
            )
            for tp, om in accepted.items()
        ]
        seq = self._next_write_seq()
        pending = group.pending_txn_offsets.setdefault(producer_id, {})
        for tp, om in accepted.items():
            pending[tp] = (om, seq)

        def on_replicated(code: ErrorCode) -> None:
            error = offset_commit_error(code)
            if error != ErrorCode.none:
                waiting = group.pending_txn_offsets.get(producer_id, {})
                for tp in accepted:
                    if tp in waiting and waiting[tp][1] == seq:
                        del waiting[tp]
                if not waiting:
                    group.pending_txn_offsets.pop(producer_id, None)
                logger.warning("transactional offset commit failed group=%s: %s", group.group_id, error.name)
            elif self._groups.get(group.group_id) is not group:
                error = ErrorCode.not_coordinator
            results.update(dict.fromkeys(accepted, error))
            respond(ErrorCode.none, results)

        writer = cast(TxnOffsetsWriter, self._writer)
        try:
            writer.append_transactional(
                self.partition_for(group.group_id), records, producer_id, producer_epoch, on_replicated
            )
        except BrookError as exc:
            on_replicated(exc.error_code)

    def _validate_txn_commit(
        self, group: Group, generation_id: int, member_id: str, instance_id: str | None
    ) -> ErrorCode:
        if group.state is GroupState.DEAD:
            return ErrorCode.coordinator_not_available
        if member_id:
            error = self._validate_member(group, member_id, instance_id)
            if error != ErrorCode.none:
                return error
        if generation_id >= 0 and generation_id != group.generation_id:
            return ErrorCode.illegal_generation
        return ErrorCode.none

    def complete_txn(self, partition: int, producer_id: int, commit: bool) -> None:
        """The producer's transaction ended on `partition` (its marker is written): its pending offsets
        become committed (a newer plain commit is kept) or are dropped."""
        for group in self._groups_in(partition):
            pending = group.pending_txn_offsets.pop(producer_id, None)
            if not pending or not commit:
                continue
            for tp, (om, seq) in pending.items():
                if seq >= group.offset_write_seqs.get(tp, 0):
                    group.offsets[tp] = om
                    group.offset_write_seqs[tp] = seq

    def replay_txn_offset(self, partition: int, producer_id: int, key: bytes, value: bytes | None) -> None:
        """A record of a transactional batch while loading: pending until the producer's marker."""
        try:
            decoded = ot.decode_key(key)
            if not isinstance(decoded, ot.OffsetCommitKey) or value is None:
                return
            v = ot.decode_offset_commit_value(value)
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("skipping unreadable transactional offset partition=%d: %s", partition, exc)
            return
        group = self._groups.get(decoded.group) or self._new_group(decoded.group, -1)
        om = OffsetAndMetadata(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp, v.expire_timestamp)
        group.pending_txn_offsets.setdefault(producer_id, {})[
            TopicPartition(decoded.topic, decoded.partition)
        ] = (
            om,
            0,
        )

    def unstable_partitions(self, group_id: str, partitions: Iterable[TopicPartition]) -> set[TopicPartition]:
        """Of `partitions`, those with a commit not yet settled: a transactional one awaiting its marker, or
        a plain one awaiting the ISR (OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT)."""
        group = self._groups.get(group_id)
        if group is None:
            return set()
        waiting = {tp for pending in group.pending_txn_offsets.values() for tp in pending}
        waiting.update(group.pending_commits)
        return {tp for tp in partitions if tp in waiting}
