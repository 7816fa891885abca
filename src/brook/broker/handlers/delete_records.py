"""DeleteRecords (key 21): move a partition's log start offset forward (-1 means the high watermark)."""

from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed
from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode, OffsetOutOfRange
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(21, versions=range(0, 3))
async def delete_records(ctx: RequestContext, req: Any) -> Any:
    def delete(tp: TopicPartition, p: Any) -> dict[str, Any]:
        if not ctx.authorize(AclOperation.DELETE, ResourceType.TOPIC, tp.topic):
            raise TopicAuthorizationFailed()
        log = ctx.broker.replicas.leader_partition(tp).log
        offset = log.high_watermark if p.offset == -1 else p.offset
        if offset < 0 or offset > log.high_watermark:
            raise OffsetOutOfRange(f"offset {p.offset} is outside [0, {log.high_watermark}] for {tp}")
        return {"error_code": ErrorCode.none, "low_watermark": log.delete_records_before(offset)}

    topics = ctx.per_partition(req.topics, delete)
    for topic in topics:
        for p in topic["partitions"]:
            p.setdefault("low_watermark", -1)
    return ctx.respond(throttle_time=0, topics=topics)
