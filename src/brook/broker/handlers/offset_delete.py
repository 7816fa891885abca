"""OffsetDelete (key 47): delete committed offsets of topics the group is not subscribed to (KIP-496)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition


@handles(47, versions=range(0, 1))
async def offset_delete(ctx: RequestContext, req: Any) -> Any:
    metadata = ctx.broker.metadata
    codes: dict[TopicPartition, ErrorCode] = {}
    wanted = []
    for topic in req.topics:
        state = metadata.topic(topic.name)
        for p in topic.partitions:
            tp = TopicPartition(topic.name, p.partition_index)
            if state is None or p.partition_index not in state.partitions:
                codes[tp] = ErrorCode.unknown_topic_or_partition
            else:
                wanted.append(tp)
    error, results = ctx.broker.groups.coordinator.delete_offsets(req.group_id, wanted)
    if error != ErrorCode.none:
        return ctx.respond(error_code=error, throttle_time=0, topics=[])
    codes.update(results)
    return ctx.respond(error_code=error, throttle_time=0, topics=partition_error_codes(req.topics, codes))
