"""OffsetDelete (key 47): delete committed offsets of topics the group is not subscribed to (KIP-496)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes, split_known_partitions
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(47, versions=range(0, 1))
async def offset_delete(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.DELETE, ResourceType.GROUP, req.group_id):
        return ctx.respond(error_code=ErrorCode.group_authorization_failed, throttle_time=0, topics=[])
    denied = {t.name for t in req.topics if not ctx.authorize(AclOperation.READ, ResourceType.TOPIC, t.name)}
    known, codes = split_known_partitions(ctx, [t for t in req.topics if t.name not in denied])
    for topic in req.topics:
        if topic.name in denied:
            for p in topic.partitions:
                codes[TopicPartition(topic.name, p.partition_index)] = ErrorCode.topic_authorization_failed
    wanted = [tp for tp, _ in known]
    error, results = ctx.broker.groups.coordinator.delete_offsets(req.group_id, wanted)
    if error != ErrorCode.none:
        return ctx.respond(error_code=error, throttle_time=0, topics=[])
    codes.update(results)
    return ctx.respond(error_code=error, throttle_time=0, topics=partition_error_codes(req.topics, codes))
