"""ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3) or first offset at a timestamp."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3


@handles(2, versions=range(1, 8))
async def list_offsets(ctx: RequestContext, req: Any) -> Any:
    replicas = ctx.broker.replicas

    def lookup(tp: TopicPartition, p: Any) -> dict[str, Any]:
        partition = replicas.leader_partition(tp)
        log = partition.log
        if p.timestamp == LATEST:
            return _found(-1, log.high_watermark, partition.leader_epoch)
        if p.timestamp == EARLIEST:
            return _found(-1, log.log_start_offset, partition.leader_epoch)
        found = log.offset_for_timestamp(p.timestamp)
        if found is None or (p.timestamp != MAX_TIMESTAMP and found.offset >= log.high_watermark):
            # No match: offset -1 with timestamp -1 (a real offset with timestamp -1 breaks the Java client).
            return _found(-1, -1, -1)
        return _found(found.timestamp, found.offset, found.leader_epoch)

    topics = ctx.per_partition(req.topics, lookup)
    return ctx.respond(throttle_time=0, topics=topics)


def _found(timestamp: int, offset: int, leader_epoch: int) -> dict[str, Any]:
    return {
        "error_code": ErrorCode.none,
        "timestamp": timestamp,
        "offset": offset,
        "leader_epoch": leader_epoch,
    }
