"""OffsetFetch (key 9): committed offsets of one group (v0-7) or several (v8); all of them if topics is null (v2+).

v0 reads the coordinator's offsets, as v1 does (Kafka 3.x in ZooKeeper mode read ZooKeeper's: see offset_commit).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(9, versions=range(0, 9))
async def offset_fetch(ctx: RequestContext, req: Any) -> Any:
    if ctx.version >= 8:
        groups = [_fetch(ctx, g.group_id, g.topics) for g in req.groups]
        return ctx.respond(throttle_time=0, groups=groups)
    found = _fetch(ctx, req.group_id, req.topics)
    if ctx.version < 2:  # no group-level error field: every partition carries it
        for topic in found["topics"]:
            for p in topic["partitions"]:
                p["error_code"] = p["error_code"] or found["error_code"]
    return ctx.respond(throttle_time=0, topics=found["topics"], error_code=found["error_code"])


def _fetch(ctx: RequestContext, group_id: str, topics: Any) -> dict[str, Any]:
    wanted = None
    if topics is not None:
        wanted = [TopicPartition(t.name, p) for t in topics for p in t.partition_indexes]
    if ctx.authorize(AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
        error, entries = ctx.broker.groups.coordinator.fetch_offsets(group_id, wanted)
    else:
        error, entries = ErrorCode.group_authorization_failed, []
    if error != ErrorCode.none and wanted is not None:
        entries = [(tp, None) for tp in wanted]
    # DESCRIBE on each topic: named ones answer TOPIC_AUTHORIZATION_FAILED, the rest of "all" are left out
    described = {tp.topic for tp, _ in entries}
    described = {t for t in described if ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, t)}
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for tp, om in entries:
        if tp.topic not in described and wanted is None:
            continue
        by_topic.setdefault(tp.topic, []).append(
            {
                "partition_index": tp.partition,
                "committed_offset": om.offset if om and tp.topic in described else -1,
                "committed_leader_epoch": om.leader_epoch if om and tp.topic in described else -1,
                "metadata": om.metadata if om and tp.topic in described else "",
                "error_code": ErrorCode.none
                if tp.topic in described
                else ErrorCode.topic_authorization_failed,
            }
        )
    return {
        "group_id": group_id,
        "error_code": error,
        "topics": [{"name": name, "partitions": parts} for name, parts in by_topic.items()],
    }
