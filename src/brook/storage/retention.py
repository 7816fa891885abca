"""Retention decisions: how many of a log's oldest segments are past `retention.ms` or beyond
`retention.bytes`. Pure functions over the segments (never the active one, which is last); FileLog
deletes what they count (delete_old_segments).
"""

from __future__ import annotations

from collections.abc import Sequence

from brook.storage.segment import LogSegment

__all__ = ["below_high_watermark", "past_retention_bytes", "past_retention_ms"]


def past_retention_ms(segments: Sequence[LogSegment], now_ms: int, retention_ms: int) -> int:
    """Oldest segments whose largest timestamp is older than retention_ms (-1: keep forever)."""
    if retention_ms < 0:
        return 0
    count = 0
    for segment in segments[:-1]:
        if segment.max_timestamp < 0 and segment.size > 0:
            break  # no timestamps (should not happen with v2); never guess
        if now_ms - max(segment.max_timestamp, 0) <= retention_ms:
            break
        count += 1
    return count


def past_retention_bytes(segments: Sequence[LogSegment], retention_bytes: int) -> int:
    """Oldest segments that can go while the rest still holds at least retention_bytes (-1: no limit)."""
    if retention_bytes < 0:
        return 0
    excess = sum(s.size for s in segments) - retention_bytes
    count = 0
    for segment in segments[:-1]:
        if excess - segment.size < 0:
            break
        excess -= segment.size
        count += 1
    return count


def below_high_watermark(segments: Sequence[LogSegment], high_watermark: int) -> int:
    """Oldest segments whose every offset is below the high watermark (the next segment starts at or
    below it). Retention deletes no others, so the log start never passes the HW: records the ISR does not
    have yet are never deleted before a follower could fetch them (Kafka's deletableSegments)."""
    count = 0
    for following in segments[1:]:
        if following.base_offset > high_watermark:
            break
        count += 1
    return count
