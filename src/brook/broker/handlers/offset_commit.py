"""OffsetCommit (key 8): store a group's consumed positions; acknowledged once the ISR of `__consumer_offsets` has it.

v0 (no group membership) is a "simple" commit to the coordinator, shared with v1+ and OffsetFetch: Kafka
3.x in ZooKeeper mode kept v0 commits in ZooKeeper (/consumers/<group>/offsets), apart from the
coordinator's, and KRaft-mode Kafka refuses v0. v1's per-partition commit_timestamp is ignored (v2+ dropped
it; offsets expire by offsets.retention.minutes).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, partition_error_codes, split_known_partitions
from brook.broker.request_metrics import parked
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.protocol.codec import to_ms
from brook.security.acl import AclOperation, ResourceType


@handles(8, versions=range(0, 9))
async def offset_commit(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        codes = {tp: ErrorCode.group_authorization_failed for tp, _ in _partitions(req.topics)}
        return ctx.respond(throttle_time=0, topics=partition_error_codes(req.topics, codes))
    # READ on each topic; the others' partitions are answered without asking the coordinator
    denied = {t.name for t in req.topics if not ctx.authorize(AclOperation.READ, ResourceType.TOPIC, t.name)}
    known, codes = split_known_partitions(ctx, [t for t in req.topics if t.name not in denied])
    codes.update(
        {tp: ErrorCode.topic_authorization_failed for tp, _ in _partitions(req.topics) if tp.topic in denied}
    )
    offsets = {
        tp: (p.committed_offset, getattr(p, "committed_leader_epoch", -1), p.committed_metadata)
        for tp, p in known
    }
    retention_ms = to_ms(getattr(req, "retention_time", -1)) if ctx.version <= 4 else -1
    # Answered once the offsets topic's ISR has the commit (or it failed): Kafka's acks=-1 append.
    error, results = await parked(
        ctx.broker.groups.commit(
            req.group_id,
            req.generation_id_or_member_epoch,
            req.member_id,
            getattr(req, "group_instance_id", None),
            offsets,
            retention_ms,
        )
    )
    codes.update(results if error == ErrorCode.none else dict.fromkeys(offsets, error))
    return ctx.respond(throttle_time=0, topics=partition_error_codes(req.topics, codes))


def _partitions(topics: Any) -> list[tuple[TopicPartition, Any]]:
    return [(TopicPartition(t.name, p.partition_index), p) for t in topics for p in t.partitions]
