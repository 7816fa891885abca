"""OffsetCommit (key 8): store a group's consumed positions; acknowledged once appended to `__consumer_offsets`."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes, split_known_partitions
from brook.common.errors import ErrorCode
from brook.protocol.codec import to_ms


@handles(8, versions=range(2, 9))
async def offset_commit(ctx: RequestContext, req: Any) -> Any:
    known, codes = split_known_partitions(ctx, req.topics)
    offsets = {
        tp: (p.committed_offset, getattr(p, "committed_leader_epoch", -1), p.committed_metadata)
        for tp, p in known
    }
    retention_ms = to_ms(getattr(req, "retention_time", -1)) if ctx.version <= 4 else -1
    error, results = ctx.broker.groups.coordinator.commit_offsets(
        req.group_id,
        req.generation_id_or_member_epoch,
        req.member_id,
        getattr(req, "group_instance_id", None),
        offsets,
        retention_ms=retention_ms,
    )
    codes.update(results if error == ErrorCode.none else dict.fromkeys(offsets, error))
    if any(code == ErrorCode.none for code in results.values()):
        replication = await ctx.broker.groups.wait_for_replication(req.group_id)
        if replication != ErrorCode.none:  # not acknowledged until the offsets topic's ISR has it
            codes.update({tp: replication for tp, code in results.items() if code == ErrorCode.none})
    return ctx.respond(throttle_time=0, topics=partition_error_codes(req.topics, codes))
