"""DescribeLogDirs (key 35): each log dir with the partitions it holds and their sizes on disk."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(35, versions=range(0, 3))
async def describe_log_dirs(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return ctx.respond(throttle_time=0, results=[])  # as Kafka answers v0-2 (v3+ adds an error code)
    log_manager = ctx.broker.log_manager
    wanted: set[TopicPartition] | None = None
    if req.topics is not None:
        wanted = {TopicPartition(t.topic, p) for t in req.topics for p in t.partitions}
    results = []
    for log_dir in log_manager.log_dirs:
        if log_dir in log_manager.offline_dirs:
            results.append(
                {"error_code": ErrorCode.kafka_storage_error, "log_dir": str(log_dir), "topics": []}
            )
            continue
        topics: dict[str, list[dict[str, Any]]] = {}
        for tp, log in sorted(log_manager.logs().items()):
            if log_manager.log_dir_of(tp) != log_dir or (wanted is not None and tp not in wanted):
                continue
            topics.setdefault(tp.topic, []).append(
                {
                    "partition_index": tp.partition,
                    "partition_size": log.size_bytes,
                    "offset_lag": 0,
                    "is_future_key": False,
                }
            )
        results.append(
            {
                "error_code": ErrorCode.none,
                "log_dir": str(log_dir),
                "topics": [{"name": name, "partitions": parts} for name, parts in topics.items()],
            }
        )
    return ctx.respond(throttle_time=0, results=results)
