"""Fetch (key 1): serve whole batches from segment files; long-poll until min_bytes or max_wait.

brook creates no incremental fetch sessions (KIP-227 lets a broker answer session_id 0), so every
fetch is a full fetch of the partitions it names.
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.broker.replica_manager import FetchPartition
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.protocol import codec


@handles(1, versions=range(4, 13))
async def fetch(ctx: RequestContext, req: Any) -> Any:
    wanted = [
        FetchPartition(
            TopicPartition(topic.topic, p.partition),
            p.fetch_offset,
            p.partition_max_bytes,
            getattr(p, "current_leader_epoch", -1),
        )
        for topic in req.topics
        for p in topic.partitions
    ]
    results = await ctx.broker.replicas.fetch(
        wanted,
        min_bytes=req.min_bytes,
        max_bytes=getattr(req, "max_bytes", 0x7FFFFFFF),
        max_wait_ms=codec.to_ms(req.max_wait),
        from_follower=req.replica_id >= 0,
    )
    topics: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        topics.setdefault(result.tp.topic, []).append(
            {
                "partition_index": result.tp.partition,
                "error_code": result.error_code,
                "high_watermark": result.high_watermark,
                "last_stable_offset": result.high_watermark,
                "log_start_offset": result.log_start_offset,
                "aborted_transactions": None if result.error_code else [],
                "preferred_read_replica": -1,
                "records": result.records,
            }
        )
    return ctx.respond(
        throttle_time=0,
        error_code=ErrorCode.none,
        session_id=0,
        responses=[{"topic": name, "partitions": parts} for name, parts in topics.items()],
    )
