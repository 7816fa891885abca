"""Replica fetch decisions as pure functions: what a follower's fetch means for the leader, and what the
leader's answer means for the follower (Kafka's Partition.fetchRecords/readRecords and
AbstractFetcherThread). No log, no clock: numbers in, a decision out, so tests call exactly these.

Leader side, in this order (Kafka's): the fetch's current leader epoch must be ours (older: FENCED,
newer: UNKNOWN); the follower must be one of our replicas; if it names its last fetched epoch we must
know that epoch's end (else OFFSET_OUT_OF_RANGE), its fetch offset must not be below our log start,
and if our log leaves its log before its fetch offset we answer with the diverging epoch (KIP-320)
instead of records; a fetch offset past our log end is OFFSET_OUT_OF_RANGE. Only a fetch that passed
all of this is a valid statement of the follower's log end offset and may move the ISR or the HW.

Follower side: a diverging epoch means truncate to where the logs part (Kafka's
getOffsetTruncationState); OFFSET_OUT_OF_RANGE below the leader's log start means start over at the
leader's log start (truncateFullyAndStartAt); above its end, cut back to the leader's HW.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from brook.common.errors import ErrorCode

__all__ = [
    "FetchValidation",
    "OutOfRangeAction",
    "divergence_truncation_offset",
    "out_of_range_action",
    "validate_fetch",
]

UNDEFINED = -1


@dataclass(frozen=True, slots=True)
class FetchValidation:
    """The leader's verdict on one fetch: an error, a diverging epoch, or read from the fetch offset."""

    error: ErrorCode = ErrorCode.none
    diverging_epoch: tuple[int, int] | None = None  # (epoch, end offset) where the follower's log leaves ours

    @property
    def should_read(self) -> bool:
        """True: read records, and for a follower, its fetch offset is its log end offset."""
        return self.error == ErrorCode.none and self.diverging_epoch is None


def validate_fetch(
    *,
    leader_epoch: int,
    current_leader_epoch: int,
    fetch_offset: int,
    last_fetched_epoch: int,
    log_start_offset: int,
    log_end_offset: int,
    end_offset_for_epoch: tuple[int, int] | None,
    replica_known: bool = True,
) -> FetchValidation:
    """Leader side. `end_offset_for_epoch` is our (epoch, end offset) for `last_fetched_epoch`
    (None when the fetch names no epoch); `replica_known` is False for a replica id we do not host."""
    if current_leader_epoch >= 0 and current_leader_epoch != leader_epoch:
        return FetchValidation(
            ErrorCode.fenced_leader_epoch
            if current_leader_epoch < leader_epoch
            else ErrorCode.unknown_leader_epoch
        )
    if not replica_known:
        # Kafka: with an epoch the follower retries until we know it as a replica; without, it refreshes.
        return FetchValidation(
            ErrorCode.unknown_leader_epoch if current_leader_epoch >= 0 else ErrorCode.not_leader_or_follower
        )
    if last_fetched_epoch >= 0 and end_offset_for_epoch is not None:
        epoch, end_offset = end_offset_for_epoch
        if epoch == UNDEFINED or end_offset == UNDEFINED:
            return FetchValidation(ErrorCode.offset_out_of_range)
        if fetch_offset < log_start_offset:
            return FetchValidation(ErrorCode.offset_out_of_range)
        if epoch < last_fetched_epoch or end_offset < fetch_offset:
            return FetchValidation(diverging_epoch=(epoch, end_offset))
    if fetch_offset < log_start_offset or fetch_offset > log_end_offset:
        return FetchValidation(ErrorCode.offset_out_of_range)
    return FetchValidation()


def divergence_truncation_offset(
    *,
    leader_epoch: int,
    leader_end_offset: int,
    own_end_offset_for_epoch: tuple[int, int],
    log_end_offset: int,
    high_watermark: int,
) -> int:
    """Follower side: where to cut our log when the leader says its `leader_epoch` ends at
    `leader_end_offset` (Kafka's AbstractFetcherThread.getOffsetTruncationState).

    `own_end_offset_for_epoch` is our (largest epoch <= leader_epoch, its end). If we know that very
    epoch, cut at the smaller end; if we only know an older one, cut at its end and let the next fetch
    (which names the older epoch) narrow it down; if we know nothing that old, cut at the leader's end.
    """
    if leader_end_offset == UNDEFINED:
        return min(high_watermark, log_end_offset)
    own_epoch, own_end = own_end_offset_for_epoch
    if own_epoch == UNDEFINED or own_end == UNDEFINED:
        return min(leader_end_offset, log_end_offset)
    if own_epoch != leader_epoch:
        return min(own_end, log_end_offset)
    return min(own_end, leader_end_offset, log_end_offset)


class OutOfRangeAction(Enum):
    TRUNCATE_FULLY_AND_START_AT = "truncate_fully_and_start_at"  # we are below the leader's log start
    TRUNCATE_TO = "truncate_to"  # we are past the leader's log end


def out_of_range_action(
    *, fetch_offset: int, leader_log_start_offset: int, leader_high_watermark: int
) -> tuple[OutOfRangeAction, int]:
    """Follower side, OFFSET_OUT_OF_RANGE: below the leader's log start (retention ran while we were
    away) we restart empty at its log start; otherwise our log runs past the leader's end (or the leader
    could not place our epoch) and we cut back to the leader's HW, which every ISR member holds."""
    if 0 <= fetch_offset < leader_log_start_offset:
        return OutOfRangeAction.TRUNCATE_FULLY_AND_START_AT, leader_log_start_offset
    if leader_high_watermark < 0:
        return OutOfRangeAction.TRUNCATE_TO, fetch_offset  # no bounds in the answer: keep our log
    return OutOfRangeAction.TRUNCATE_TO, leader_high_watermark
