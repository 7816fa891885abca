"""TxnOffsetCommit (key 28): a transactional producer commits a group's offsets inside its transaction.

The group coordinator writes them to `__consumer_offsets` in the producer's transactional batch; they become
the group's committed offsets when the transaction commits, and are dropped if it aborts
(coordinator/txn_offsets.py). v2 adds the leader epoch, v3 the member id, generation and instance id
(KIP-447: the group's current generation fences a zombie member).

Authorization as Kafka: without WRITE on the transactional id every partition gets
TRANSACTIONAL_ID_AUTHORIZATION_FAILED, without READ on the group GROUP_AUTHORIZATION_FAILED; a topic that may
not be READ gets TOPIC_AUTHORIZATION_FAILED for its partitions (the others are still committed)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes, split_known_partitions
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(28, versions=range(0, 5))
async def txn_offset_commit(ctx: RequestContext, req: Any) -> Any:
    denied = _denied(ctx, req)
    if denied is not None:
        codes = {TopicPartition(t.name, p.partition_index): denied for t in req.topics for p in t.partitions}
        return ctx.respond(throttle_time=0, topics=partition_error_codes(req.topics, codes))
    readable = [t for t in req.topics if ctx.authorize(AclOperation.READ, ResourceType.TOPIC, t.name)]
    known, codes = split_known_partitions(ctx, readable)
    for topic in req.topics:
        if topic not in readable:
            codes.update(
                {
                    TopicPartition(topic.name, p.partition_index): ErrorCode.topic_authorization_failed
                    for p in topic.partitions
                }
            )
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
    return await ctx.respond_async(throttle_time=0, topics=partition_error_codes(req.topics, codes))


def _denied(ctx: RequestContext, req: Any) -> ErrorCode | None:
    """The error every partition gets when the transactional id or the group is not authorized."""
    if not ctx.authorize(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactional_id):
        return ErrorCode.transactional_id_authorization_failed
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        return ErrorCode.group_authorization_failed
    return None
