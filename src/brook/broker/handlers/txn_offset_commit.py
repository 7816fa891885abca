"""TxnOffsetCommit (key 28): a transactional producer commits a group's offsets inside its transaction.

The group coordinator writes them to `__consumer_offsets` in the producer's transactional batch; they become
the group's committed offsets when the transaction commits, and are dropped if it aborts
(coordinator/txn_offsets.py). v2 adds the leader epoch, v3 the member id, generation and instance id
(KIP-447: the group's current generation fences a zombie member)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes, split_known_partitions
from brook.common.errors import ErrorCode


@handles(28, versions=range(0, 5))
async def txn_offset_commit(ctx: RequestContext, req: Any) -> Any:
    known, codes = split_known_partitions(ctx, req.topics)
    offsets = {
        tp: (p.committed_offset, getattr(p, "committed_leader_epoch", -1), p.committed_metadata)
        for tp, p in known
    }
    if offsets:
        error, results = await ctx.broker.groups.txn_commit(
            req.group_id,
            req.producer_id,
            req.producer_epoch,
            getattr(req, "generation_id", -1),
            getattr(req, "member_id", ""),
            getattr(req, "group_instance_id", None),
            offsets,
        )
        codes.update(results if error == ErrorCode.none else dict.fromkeys(offsets, error))
    if ctx.version < 2:
        codes = {
            tp: ErrorCode.invalid_producer_epoch if code == ErrorCode.producer_fenced else code
            for tp, code in codes.items()
        }
    return ctx.respond(throttle_time=0, topics=partition_error_codes(req.topics, codes))
