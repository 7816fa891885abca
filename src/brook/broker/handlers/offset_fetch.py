"""OffsetFetch (key 9): committed offsets of one group (v0-7) or several (v8); all of them if topics is null (v2+).

v7+ require_stable (KIP-447): a partition whose commit is not settled (a transactional commit awaiting its
marker, a plain one awaiting the ISR) answers UNSTABLE_OFFSET_COMMIT, and the client retries.

v0 reads the coordinator's offsets, as v1 does (Kafka 3.x in ZooKeeper mode read ZooKeeper's: see offset_commit).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(9, versions=range(0, 9))
async def offset_fetch(ctx: RequestContext, req: Any) -> Any:
    stable = bool(getattr(req, "require_stable", False))  # v7+ (KIP-447)
    if ctx.version >= 8:
        groups = [_fetch(ctx, g.group_id, g.topics, stable) for g in req.groups]
        return ctx.respond(throttle_time=0, groups=groups)
    found = _fetch(ctx, req.group_id, req.topics, stable)
    if ctx.version < 2:  # no group-level error field: every partition carries it
        for topic in found["topics"]:
            for p in topic["partitions"]:
                p["error_code"] = p["error_code"] or found["error_code"]
    return ctx.respond(throttle_time=0, topics=found["topics"], error_code=found["error_code"])


def _fetch(ctx: RequestContext, group_id: str, topics: Any, require_stable: bool = False) -> dict[str, Any]:
    wanted = None
    if topics is not None:
        wanted = [TopicPartition(t.name, p) for t in topics for p in t.partition_indexes]
    coordinator = ctx.broker.groups.coordinator
    if ctx.authorize(AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
        error, entries = coordinator.fetch_offsets(group_id, wanted)
    else:
        error, entries = ErrorCode.group_authorization_failed, []
    if error != ErrorCode.none and wanted is not None:
        entries = [(tp, None) for tp in wanted]
    unstable = set()
    if require_stable and error == ErrorCode.none and wanted is not None:
        unstable = coordinator.unstable_partitions(group_id, wanted)  # a commit not settled yet
    # DESCRIBE on each topic: named ones answer TOPIC_AUTHORIZATION_FAILED, the rest of "all" are left out
    described = {tp.topic for tp, _ in entries}
    described = {t for t in described if ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, t)}
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for tp, om in entries:
        if tp.topic not in described and wanted is None:
            continue
        if tp in unstable or tp.topic not in described:
            om = None
        if tp.topic not in described:
            code = ErrorCode.topic_authorization_failed
        elif tp in unstable:
            code = ErrorCode.unstable_offset_commit
        else:
            code = ErrorCode.none
        by_topic.setdefault(tp.topic, []).append(
            {
                "partition_index": tp.partition,
                "committed_offset": om.offset if om else -1,
                "committed_leader_epoch": om.leader_epoch if om else -1,
                "metadata": om.metadata if om else "",
                "error_code": code,
            }
        )
    return {
        "group_id": group_id,
        "error_code": error,
        "topics": [{"name": name, "partitions": parts} for name, parts in by_topic.items()],
    }
