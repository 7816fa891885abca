"""OffsetFetch (key 9): committed offsets of one group (v0-7) or several (v8); all of them if topics is null (v2+).

v7+ require_stable (KIP-447): a partition whose commit is not settled (a transactional commit awaiting its
marker, a plain one awaiting the ISR) answers UNSTABLE_OFFSET_COMMIT, and the client retries.

v0 reads the coordinator's offsets, as v1 does (Kafka 3.x in ZooKeeper mode read ZooKeeper's: see offset_commit).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition


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
    error, entries = coordinator.fetch_offsets(group_id, wanted)
    if error != ErrorCode.none and wanted is not None:
        entries = [(tp, None) for tp in wanted]
    unstable = set()
    if require_stable and error == ErrorCode.none and wanted is not None:
        unstable = coordinator.unstable_partitions(group_id, wanted)  # a commit not settled yet
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for tp, om in entries:
        if tp in unstable:
            om = None
        by_topic.setdefault(tp.topic, []).append(
            {
                "partition_index": tp.partition,
                "committed_offset": om.offset if om else -1,
                "committed_leader_epoch": om.leader_epoch if om else -1,
                "metadata": om.metadata if om else "",
                "error_code": ErrorCode.unstable_offset_commit if tp in unstable else ErrorCode.none,
            }
        )
    return {
        "group_id": group_id,
        "error_code": error,
        "topics": [{"name": name, "partitions": parts} for name, parts in by_topic.items()],
    }
