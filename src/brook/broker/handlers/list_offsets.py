"""ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3) or first offset at a timestamp.

With isolation_level 1 (read_committed, v2+) latest is the last stable offset and a timestamp lookup
finds nothing at or past it, as Kafka's UnifiedLog.fetchOffsetByTimestamp bounds it. Any isolation_level
but 0 and 1 fails the whole request with UNKNOWN_SERVER_ERROR, as Kafka's does (handlers/isolation.py).

v0 answers an array of up to max_num_offsets offsets, as Kafka's UnifiedLog.legacyFetchOffsetsBefore:
segment-granular, newest first (`legacy_offsets_before`).
"""

import os
from pathlib import Path
from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed
from brook.broker.handlers.base import RequestContext, handles
from brook.broker.handlers.isolation import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    is_known_isolation_level,
    log_unknown_isolation_level,
)
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3


@handles(2, versions=range(0, 8))
async def list_offsets(ctx: RequestContext, req: Any) -> Any:
    replicas = ctx.broker.replicas
    now_ms = ctx.broker.clock.now_ms()
    isolation_level = getattr(req, "isolation_level", READ_UNCOMMITTED)  # v2+
    if not is_known_isolation_level(isolation_level) and any(
        ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, topic.name) for topic in req.topics
    ):
        log_unknown_isolation_level(ctx, "ListOffsets", isolation_level)
        return ctx.respond(
            throttle_time=0, topics=_every_partition_failed(req, ErrorCode.unknown_server_error)
        )
    read_committed = isolation_level == READ_COMMITTED

    def lookup(tp: TopicPartition, p: Any) -> dict[str, Any]:
        if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, tp.topic):
            raise TopicAuthorizationFailed()
        partition = replicas.leader_partition(tp)
        log = partition.log
        if ctx.version == 0:
            if p.timestamp < EARLIEST:  # v0 knows only -1 and -2 among the negative timestamps
                return {"error_code": ErrorCode.unsupported_version, "old_style_offsets": []}
            points = _offset_times(log, now_ms, with_times=p.timestamp >= 0)
            offsets = legacy_offsets_before(points, p.timestamp, p.max_num_offsets, log.high_watermark)
            return {"error_code": ErrorCode.none, "old_style_offsets": offsets}
        fetchable = partition.last_stable_offset if read_committed else log.high_watermark
        if p.timestamp == LATEST:
            return _found(-1, fetchable, partition.leader_epoch)
        if p.timestamp == EARLIEST:
            return _found(-1, log.log_start_offset, partition.leader_epoch)
        found = log.offset_for_timestamp(p.timestamp)
        if found is None or (p.timestamp != MAX_TIMESTAMP and found.offset >= fetchable):
            # No match: offset -1 with timestamp -1 (a real offset with timestamp -1 breaks the Java client).
            return _found(-1, -1, -1)
        return _found(found.timestamp, found.offset, found.leader_epoch)

    topics = ctx.per_partition(req.topics, lookup)
    for topic in topics:  # an error entry of v0 still carries its (empty) offsets array
        for entry in topic["partitions"]:
            entry.setdefault("old_style_offsets", [])
    return ctx.respond(throttle_time=0, topics=topics)


def _every_partition_failed(req: Any, error_code: ErrorCode) -> list[dict[str, Any]]:
    """One error for the whole request, as Kafka's ListOffsetsRequest.getErrorResponse: every requested
    partition gets `error_code`, offset -1 and timestamp -1."""
    return [
        {
            "name": topic.name,
            "partitions": [
                {
                    "partition_index": p.partition_index,
                    "error_code": error_code,
                    "timestamp": -1,
                    "offset": -1,
                }
                for p in topic.partitions
            ],
        }
        for topic in req.topics
    ]


def _found(timestamp: int, offset: int, leader_epoch: int) -> dict[str, Any]:
    return {
        "error_code": ErrorCode.none,
        "timestamp": timestamp,
        "offset": offset,
        "leader_epoch": leader_epoch,
    }


def _offset_times(log: Any, now_ms: int, *, with_times: bool) -> list[tuple[int, int]]:
    """(offset, time) per segment: its base offset (at least the log start) and its file's last-modified
    time, then (log end, now) if the last segment holds anything: the points Kafka's
    legacyFetchOffsetsBefore searches. Without `with_times` (-1 and -2 need only the offsets) the times
    are -1 and no file is looked at."""
    segments = getattr(log, "segments", None)
    if segments is None:  # a log without segments (brook.testing's MemoryLog): one segment
        points = [(log.log_start_offset, -1)]
        has_data = log.log_end_offset > log.log_start_offset
    else:
        points = [
            (max(s.base_offset, log.log_start_offset), _last_modified_ms(s.path) if with_times else -1)
            for s in segments
        ]
        has_data = segments[-1].next_offset > segments[-1].base_offset
    if has_data:
        points.append((log.log_end_offset, now_ms))
    return points


def _last_modified_ms(path: Path) -> int:
    """A segment file's mtime, as Java's File.lastModified (0 when the file is gone): one stat, no read."""
    try:
        return os.stat(path).st_mtime_ns // 1_000_000
    except OSError:
        return 0


def legacy_offsets_before(
    offset_times: list[tuple[int, int]], timestamp: int, max_num_offsets: int, high_watermark: int
) -> list[int]:
    """ListOffsets v0's answer: up to `max_num_offsets` segment boundaries at or before `timestamp`,
    newest first (-1: from the log end, -2: only the first); for a consumer, nothing above the high
    watermark (the high watermark stands in for what lies above it), as Kafka's Partition does."""
    if timestamp == LATEST:
        start = len(offset_times) - 1
    elif timestamp == EARLIEST:
        start = 0
    else:
        start = len(offset_times) - 1
        while start >= 0 and offset_times[start][1] > timestamp:
            start -= 1
    count = max(min(max_num_offsets, start + 1), 0)
    offsets = sorted((offset_times[start - j][0] for j in range(count)), reverse=True)
    if any(o > high_watermark for o in offsets):
        offsets = [high_watermark] + [o for o in offsets if o <= high_watermark]
    return offsets
