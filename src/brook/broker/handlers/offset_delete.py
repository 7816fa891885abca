"""OffsetDelete (key 47): delete committed offsets of topics the group is not subscribed to (KIP-496)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes, split_known_partitions
from brook.common.errors import ErrorCode


@handles(47, versions=range(0, 1))
async def offset_delete(ctx: RequestContext, req: Any) -> Any:
    known, codes = split_known_partitions(ctx, req.topics)
    wanted = [tp for tp, _ in known]
    error, results = ctx.broker.groups.coordinator.delete_offsets(req.group_id, wanted)
    if error != ErrorCode.none:
        return ctx.respond(error_code=error, throttle_time=0, topics=[])
    codes.update(results)
    return ctx.respond(error_code=error, throttle_time=0, topics=partition_error_codes(req.topics, codes))
