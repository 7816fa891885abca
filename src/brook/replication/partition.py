"""A partition replica hosted by this broker: its log plus leader epoch, replica set, ISR and HW.

Owned by the broker's event loop. Appends are synchronous, so batches from one connection reach the
log in the order their requests arrived.

As leader, the partition first judges each fetch (`validate_fetch`, rules in fetch.py); only a valid
follower fetch tells it that follower's log end offset (`record_follower_fetch`) and when it was last
caught up. The high watermark is the smallest log end offset in the (maximal) ISR and never goes
backwards. It proposes ISR changes (`maybe_expand_isr`, `maybe_shrink_isr`) but does not apply them: the
broker writes them to the metadata store first and applies what the store accepted (`update_isr`);
while a proposal is in flight (`pending_isr`) no other is made and the HW counts its members too.
As follower, `handle_fetch_response` turns the leader's answer into an append, a truncation or a retry.
It knows nothing of sockets, ZooKeeper or the wall clock (callers pass `now_ms`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum

from brook.common.errors import (
    ErrorCode,
    FencedLeaderEpoch,
    InvalidRecord,
    NotEnoughReplicas,
    NotLeaderOrFollower,
    UnknownLeaderEpoch,
)
from brook.common.types import TopicPartition
from brook.records.batch import BatchHeader, iter_batches, parse_header, validate_batches
from brook.records.control import EndTxnMarker, build_end_txn_marker
from brook.records.conversion import CODEC_BY_NAME, recompress
from brook.records.records import keys_are_present
from brook.replication.fetch import (
    FetchValidation,
    OutOfRangeAction,
    divergence_truncation_offset,
    out_of_range_action,
    validate_fetch,
)
from brook.replication.transactions import apply_appended, apply_marker, last_stable_offset, rebuild_from_log
from brook.storage.api import AppendInfo, LogConfig, PartitionLog
from brook.storage.producer_state import ProducerStateManager

logger = logging.getLogger(__name__)

__all__ = ["FollowerFetchOutcome", "FollowerState", "Partition"]


class FollowerFetchOutcome(Enum):
    """What one partition of a fetch response did to this follower."""

    APPENDED = "appended"  # records (maybe none) appended, HW followed
    TRUNCATED = "truncated"  # the log was cut (divergence or out of range); fetch again at once
    STALE = "stale"  # the answer is for an offset or role we no longer have; ignored
    RETRY = "retry"  # the leader refused (epoch, leadership, ...): back off, then fetch again


@dataclass(slots=True)
class FollowerState:
    """What the leader knows of one follower, from its fetches (Kafka's Replica)."""

    log_end_offset: int = -1  # unknown until its first fetch in this leader epoch
    last_caught_up_time_ms: int = 0
    last_fetch_time_ms: int = 0
    leader_end_offset_at_last_fetch: int = -1


@dataclass
class Partition:
    tp: TopicPartition
    log: PartitionLog
    config: LogConfig
    node_id: int
    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    producer_state: ProducerStateManager = field(default_factory=ProducerStateManager)
    min_insync_replicas: int = 1
    replica_lag_time_max_ms: int = 30_000
    followers: dict[int, FollowerState] = field(default_factory=dict)
    leader_epoch_start_offset: int = -1  # our log end offset when we became leader in this epoch
    pending_isr: tuple[int, ...] | None = None  # an ISR proposal the metadata store has not answered yet

    @property
    def maximal_isr(self) -> tuple[int, ...]:
        """The ISR plus members of an in-flight expansion (KIP-497): the HW waits for them too, so
        it is right whether or not the store accepts. A pending shrink counts only once accepted."""
        if self.pending_isr is None:
            return self.isr
        return (*self.isr, *(r for r in self.pending_isr if r not in self.isr))

    @property
    def is_leader(self) -> bool:
        return self.leader == self.node_id

    def require_leader(self) -> None:
        if not self.is_leader:
            raise NotLeaderOrFollower(f"broker {self.node_id} is not the leader of {self.tp}")

    def append_as_leader(
        self,
        data: bytearray | memoryview,
        now_ms: int,
        *,
        validated_with: LogConfig | None = None,
        batches: list[tuple[int, BatchHeader]] | None = None,
    ) -> AppendInfo:
        """Validate, dedupe (idempotent producers) and append a producer's batches.

        `validated_with`: the topic config the produce validator (records/validator.py) already checked
        these bytes against, CRCs and records included, and `batches` what it read of them. Then the
        headers are checked again (framing, max.message.bytes as configured now) only if the config changed
        since, and keys only if the topic became compacted since.
        """
        self.require_leader()
        if batches is None or validated_with is None or validated_with is not self.config:
            batches = validate_batches(
                data, max_batch_bytes=self.config.max_message_bytes, check_crc=validated_with is None
            )
        if self.config.compact and (validated_with is None or not validated_with.compact):
            _require_keys(data, batches)
        for _, header in batches:
            if header.is_control:  # Kafka's LogValidator
                raise InvalidRecord("Clients are not allowed to write control records")
        if self.config.compression_type != "producer":
            converted = recompress(data, batches, CODEC_BY_NAME[self.config.compression_type])
            if converted is not data:  # rebuilt: check the new bytes (unchanged ones were checked above)
                data, batches = converted, validate_batches(converted)
        duplicate = self.producer_state.check_append([header for _, header in batches])
        if duplicate is not None:
            logger.debug("duplicate batch tp=%s offset=%d", self.tp, duplicate.first_offset)
            return AppendInfo(duplicate.first_offset, duplicate.last_offset, -1, self.log.log_start_offset)
        info = self.log.append_as_leader(data, leader_epoch=self.leader_epoch, parsed=batches, now_ms=now_ms)
        apply_appended(self.producer_state, self.log, data, batches, info.first_offset, now_ms)
        self.maybe_increment_high_watermark()
        return info

    def append_txn_marker(
        self, producer_id: int, producer_epoch: int, marker: EndTxnMarker, now_ms: int
    ) -> AppendInfo:
        """WriteTxnMarkers: append a COMMIT/ABORT control batch in our leader epoch (the broker's own
        append, never a client's) and complete the producer's transaction here."""
        self.require_leader()
        self.producer_state.check_marker(producer_id, producer_epoch, marker)
        data = build_end_txn_marker(producer_id, producer_epoch, marker, now_ms)
        info = self.log.append_as_leader(data, leader_epoch=self.leader_epoch)
        apply_marker(
            self.producer_state, self.log, producer_id, producer_epoch, info.first_offset, marker, now_ms
        )
        self.maybe_increment_high_watermark()
        return info

    @property
    def last_stable_offset(self) -> int:
        """min(first offset of the open or unreplicated transactions, high watermark)."""
        return last_stable_offset(self.producer_state, self.log.high_watermark, self.log.log_start_offset)

    def check_enough_replicas(self) -> None:
        """acks=all: refuse before appending when the ISR is below min.insync.replicas."""
        if len(self.isr) < self.min_insync_replicas:
            raise NotEnoughReplicas(
                f"the ISR of {self.tp} has {len(self.isr)} replicas, below min.insync.replicas="
                f"{self.min_insync_replicas}"
            )

    # --- leader side -----------------------------------------------------------------------------

    def make_leader(
        self, leader_epoch: int, replicas: tuple[int, ...], isr: tuple[int, ...], now_ms: int
    ) -> None:
        """Become (or stay, in a new epoch) the leader; followers' positions are unknown until they fetch."""
        self.leader, self.leader_epoch, self.replicas, self.isr = self.node_id, leader_epoch, replicas, isr
        self.pending_isr = None
        # A new leader gives every follower a full lag window to show up before it may leave the ISR.
        self.followers = {
            r: FollowerState(last_caught_up_time_ms=now_ms) for r in replicas if r != self.node_id
        }
        self.leader_epoch_start_offset = self.log.log_end_offset
        # Our epoch starts at our log end offset, written down before any append (Kafka's makeLeader):
        # a follower with records of an epoch we never saw is then told where it leaves our log,
        # instead of being served from its own offset onto a history that is not ours.
        self.log.assign_epoch_start_offset(leader_epoch, self.leader_epoch_start_offset)
        self.maybe_increment_high_watermark()
        logger.info(
            "became leader tp=%s epoch=%d isr=%s leo=%d hw=%d",
            self.tp,
            leader_epoch,
            isr,
            self.log.log_end_offset,
            self.log.high_watermark,
        )

    def update_isr(self, replicas: tuple[int, ...], isr: tuple[int, ...], now_ms: int) -> bool:
        """Apply an ISR the metadata store accepted; True if the high watermark moved."""
        self.replicas, self.isr = replicas, isr
        for r in replicas:
            if r != self.node_id and r not in self.followers:
                self.followers[r] = FollowerState(last_caught_up_time_ms=now_ms)
        for r in [r for r in self.followers if r not in replicas]:
            del self.followers[r]  # moved off by a reassignment: never again counted, or taken into the ISR
        return self.is_leader and self.maybe_increment_high_watermark()

    def validate_fetch(
        self,
        fetch_offset: int,
        *,
        current_leader_epoch: int = -1,
        last_fetched_epoch: int = -1,
        replica_id: int = -1,
    ) -> FetchValidation:
        """Leader side: may this fetch read from `fetch_offset`? (fetch.py has the rules.)"""
        self.require_leader()
        return validate_fetch(
            leader_epoch=self.leader_epoch,
            current_leader_epoch=current_leader_epoch,
            fetch_offset=fetch_offset,
            last_fetched_epoch=last_fetched_epoch,
            log_start_offset=self.log.log_start_offset,
            log_end_offset=self.log.log_end_offset,
            end_offset_for_epoch=(
                self.log.end_offset_for_epoch(last_fetched_epoch) if last_fetched_epoch >= 0 else None
            ),
            replica_known=replica_id < 0 or replica_id in self.followers,
        )

    def end_offset_for_leader_epoch(
        self, leader_epoch: int, *, current_leader_epoch: int = -1
    ) -> tuple[int, int]:
        """OffsetForLeaderEpoch on the leader: (largest epoch <= `leader_epoch`, its end offset)."""
        self.require_leader()
        if current_leader_epoch >= 0 and current_leader_epoch < self.leader_epoch:
            raise FencedLeaderEpoch(
                f"epoch {current_leader_epoch} of {self.tp} is older than {self.leader_epoch}"
            )
        if current_leader_epoch > self.leader_epoch:
            raise UnknownLeaderEpoch(
                f"epoch {current_leader_epoch} of {self.tp} is newer than {self.leader_epoch}"
            )
        return self.log.end_offset_for_epoch(leader_epoch)

    def record_follower_fetch(self, replica_id: int, fetch_offset: int, now_ms: int) -> bool:
        """A follower's fetch from `fetch_offset` passed `validate_fetch`: that offset is its log end
        offset. True if the HW moved. Never call it for a fetch that did not pass."""
        state = self.followers.get(replica_id)
        if state is None or not self.is_leader:
            return False
        leader_end = self.log.log_end_offset
        # Kafka's rule: caught up now if it reached our end; else caught up as of its previous fetch if it
        # reached the end we had then (a busy partition's follower is never exactly at the end).
        if fetch_offset >= leader_end:
            state.last_caught_up_time_ms = now_ms
        elif fetch_offset >= state.leader_end_offset_at_last_fetch >= 0:
            state.last_caught_up_time_ms = max(state.last_caught_up_time_ms, state.last_fetch_time_ms)
        state.log_end_offset = min(fetch_offset, leader_end)
        state.leader_end_offset_at_last_fetch = leader_end
        state.last_fetch_time_ms = now_ms
        return self.maybe_increment_high_watermark()

    def maybe_increment_high_watermark(self) -> bool:
        """HW = the smallest log end offset in the ISR; it only moves forward. True if it moved."""
        if not self.is_leader:
            return False
        candidate = self.log.log_end_offset
        for r in self.maximal_isr:
            if r != self.node_id:
                state = self.followers.get(r)
                candidate = min(candidate, state.log_end_offset if state is not None else -1)
        before = self.log.high_watermark
        if candidate > before:
            self.log.update_high_watermark(candidate)
        after = self.log.high_watermark
        assert after >= before, "the high watermark went backwards"
        return after > before

    def maybe_expand_isr(self, replica_id: int) -> tuple[int, ...] | None:
        """The ISR with `replica_id` added, if it is out of the ISR and has caught up to the HW."""
        state = self.followers.get(replica_id)
        if not self.is_leader or state is None or replica_id in self.isr or self.pending_isr is not None:
            return None
        # Caught up to the HW *and* to where this epoch began: a new leader's HW can lag what the old one
        # acknowledged, and a replica in the ISR may be elected, so it must hold every acknowledged record.
        if state.log_end_offset < max(self.log.high_watermark, self.leader_epoch_start_offset, 0):
            return None
        return (*self.isr, replica_id)

    def maybe_shrink_isr(self, now_ms: int) -> tuple[int, ...] | None:
        """The ISR without followers that have not caught up within replica.lag.time.max.ms (or None)."""
        if not self.is_leader or self.pending_isr is not None:
            return None
        keep = tuple(
            r
            for r in self.isr
            if r == self.node_id
            or (
                (state := self.followers.get(r)) is not None
                and now_ms - state.last_caught_up_time_ms <= self.replica_lag_time_max_ms
            )
        )
        return keep if keep != self.isr else None

    # --- follower side ---------------------------------------------------------------------------

    def make_follower(
        self, leader: int, leader_epoch: int, replicas: tuple[int, ...], isr: tuple[int, ...], now_ms: int
    ) -> None:
        """Follow `leader` in `leader_epoch`. No truncation here: the first fetch sends our last epoch and
        the leader answers with where our logs diverge (KIP-320, KIP-101's rule inside Fetch). Cutting
        back to the HW instead could drop acknowledged records a later election then needs (KIP-101).
        """
        self.leader, self.leader_epoch, self.replicas, self.isr = leader, leader_epoch, replicas, isr
        self.followers = {}
        self.pending_isr = None
        logger.info(
            "became follower tp=%s leader=%d epoch=%d leo=%d",
            self.tp,
            leader,
            leader_epoch,
            self.log.log_end_offset,
        )

    @property
    def fetch_offset_as_follower(self) -> int:
        return self.log.log_end_offset

    @property
    def last_fetched_epoch(self) -> int:
        """The leader epoch of our last record (-1 for an empty log): sent with each follower fetch."""
        latest = self.log.offset_for_timestamp(-1)
        return latest.leader_epoch if latest is not None and self.log.log_end_offset > 0 else -1

    def diverging_epoch(self, last_fetched_epoch: int, fetch_offset: int) -> tuple[int, int] | None:
        """Leader side: where a follower's log leaves ours, if it does (KIP-320)."""
        return self.validate_fetch(fetch_offset, last_fetched_epoch=last_fetched_epoch).diverging_epoch

    def handle_fetch_response(
        self,
        fetch_offset: int,
        error: ErrorCode,
        *,
        leader_high_watermark: int = -1,
        leader_log_start_offset: int = -1,
        diverging_epoch: tuple[int, int] | None = None,
        records: bytes = b"",
        now_ms: int = 0,
    ) -> FollowerFetchOutcome:
        """Follower side: apply the leader's answer to our fetch from `fetch_offset`.

        An answer to an offset that is no longer our log end (we truncated or appended since the
        request left) is stale and ignored, as Kafka's fetcher ignores it. Raises InvalidRecord when
        the records cannot follow our log (the caller marks this partition failed and retries later).
        """
        if self.is_leader or fetch_offset != self.log.log_end_offset:
            return FollowerFetchOutcome.STALE
        if error == ErrorCode.none and diverging_epoch is not None:
            self.truncate_on_divergence(*diverging_epoch, now_ms=now_ms)
            return FollowerFetchOutcome.TRUNCATED
        if error == ErrorCode.none:
            self.append_as_follower(records, leader_high_watermark, now_ms)
            return FollowerFetchOutcome.APPENDED
        if error == ErrorCode.offset_out_of_range:
            action, offset = out_of_range_action(
                fetch_offset=fetch_offset,
                leader_log_start_offset=leader_log_start_offset,
                leader_high_watermark=leader_high_watermark,
            )
            if action is OutOfRangeAction.TRUNCATE_FULLY_AND_START_AT:
                self.truncate_fully_and_start_at(offset)
            elif offset < self.log.log_end_offset:
                self.truncate_as_follower(offset, now_ms)
            else:
                return FollowerFetchOutcome.RETRY  # nothing of ours to cut: ask again after a backoff
            return FollowerFetchOutcome.TRUNCATED
        return FollowerFetchOutcome.RETRY

    def truncate_on_divergence(self, epoch: int, end_offset: int, now_ms: int) -> None:
        """Follower side: the leader's `epoch` ends at `end_offset`; cut our log where they part."""
        target = divergence_truncation_offset(
            leader_epoch=epoch,
            leader_end_offset=end_offset,
            own_end_offset_for_epoch=self.log.end_offset_for_epoch(epoch),
            log_end_offset=self.log.log_end_offset,
            high_watermark=self.log.high_watermark,
        )
        logger.info(
            "diverging epoch tp=%s leader_epoch_end=(%d, %d) leo=%d truncate_to=%d",
            self.tp, epoch, end_offset, self.log.log_end_offset, target,
        )  # fmt: skip
        self.truncate_as_follower(max(target, 0), now_ms)

    def append_as_follower(self, records: bytes, leader_high_watermark: int, now_ms: int) -> int:
        """Append batches fetched from the leader and follow its HW; returns the bytes appended."""
        if self.is_leader:
            raise NotLeaderOrFollower(f"broker {self.node_id} leads {self.tp}; it does not follow")
        appended = 0
        whole = _whole_batches(records) if records else 0
        if whole:
            first = parse_header(records, 0)
            log_end = self.log.log_end_offset
            if first.base_offset < log_end <= first.last_offset and log_end == self.log.log_start_offset:
                # The leader's log start lies inside its first batch (DeleteRecords): our empty log
                # starts at that batch instead (Kafka's UnexpectedAppendOffsetException handling).
                logger.info("restarting tp=%s at offset %d to hold a whole batch", self.tp, first.base_offset)
                self.log.truncate_fully_and_start_at(first.base_offset)
            self.log.append_as_follower(records[:whole])
            # Markers replicate like any batch: the follower completes transactions and indexes aborts
            # from what it appended (each header carries its own offset, so one call per batch).
            for pos, header in iter_batches(memoryview(records)[:whole]):
                apply_appended(
                    self.producer_state, self.log, records, [(pos, header)], header.base_offset, now_ms
                )
            appended = whole
        self.log.update_high_watermark(min(leader_high_watermark, self.log.log_end_offset))
        return appended

    def truncate_as_follower(self, offset: int, now_ms: int) -> None:
        if offset < self.log.log_end_offset:
            logger.info("truncating tp=%s from leo=%d to %d", self.tp, self.log.log_end_offset, offset)
            self.log.truncate_to(offset)
            if not self.producer_state.truncate_from(self.log.log_end_offset):
                self.rebuild_producer_state(now_ms)
        else:
            self.log.truncate_to(offset)  # cuts nothing, but drops an empty epoch left at our end

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """We are below the leader's log start: drop our log and restart it empty at `offset`."""
        logger.info(
            "truncating tp=%s fully (log_start_offset=%d leo=%d) and starting at %d",
            self.tp, self.log.log_start_offset, self.log.log_end_offset, offset,
        )  # fmt: skip
        self.log.truncate_fully_and_start_at(offset)
        self.producer_state.truncate()

    def rebuild_producer_state(self, now_ms: int) -> None:
        """Replay batch headers from the log so dedupe, open transactions and the aborted-transaction
        index survive a restart and a failover (transactions.py's rebuild_from_log).

        Headers only (61 bytes a batch, no record data; a marker's one record too), and leading segments
        whose largest timestamp is older than producer.id.expiration.ms are skipped: a producer whose last
        batch lies there would be expired anyway (Kafka expires by the batch timestamps too), and one that
        wrote later has its latest batches, epoch and sequence in the segments read."""
        self.producer_state.truncate()
        rebuild_from_log(self.producer_state, self.log, now_ms)


def _whole_batches(data: bytes) -> int:
    """Length of the prefix of `data` made of whole batches (a fetch may end with a partial one)."""
    pos = 0
    while pos + 61 <= len(data):
        header = parse_header(data, pos)
        if pos + header.size > len(data):
            break
        pos += header.size
    return pos


def _require_keys(data: bytearray | memoryview, batches: list[tuple[int, BatchHeader]]) -> None:
    for pos, header in batches:
        if not keys_are_present(memoryview(data)[pos : pos + header.size]):
            raise InvalidRecord("Compacted topic cannot accept message without key")
