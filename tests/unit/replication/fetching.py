"""One replica fetch between two in-memory partitions, through the real decision code (no sockets)."""

from __future__ import annotations

from brook.replication.partition import FollowerFetchOutcome, Partition


def replicate_once(
    leader: Partition, follower: Partition, now_ms: int, *, max_bytes: int = 1 << 20
) -> FollowerFetchOutcome:
    """The leader validates the follower's fetch, reads, records the follower's log end offset only
    for a valid fetch; the follower applies the answer. Returns what the follower did."""
    fetch_offset = follower.fetch_offset_as_follower
    verdict = leader.validate_fetch(
        fetch_offset,
        current_leader_epoch=follower.leader_epoch,
        last_fetched_epoch=follower.last_fetched_epoch,
        replica_id=follower.node_id,
    )
    records = b""
    if verdict.should_read:
        records = leader.log.read(fetch_offset, max_bytes=max_bytes).to_bytes()
        leader.record_follower_fetch(follower.node_id, fetch_offset, now_ms)
    return follower.handle_fetch_response(
        fetch_offset,
        verdict.error,
        leader_high_watermark=leader.log.high_watermark,
        leader_log_start_offset=leader.log.log_start_offset,
        diverging_epoch=verdict.diverging_epoch,
        records=records,
        now_ms=now_ms,
    )
