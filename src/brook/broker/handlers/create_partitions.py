"""CreatePartitions (key 37): a topic's partition count only grows."""

from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(37, versions=range(0, 4))
async def create_partitions(ctx: RequestContext, req: Any) -> Any:
    results = []
    for topic in req.topics:
        entry: dict[str, Any] = {"name": topic.name}
        try:
            if not ctx.authorize(AclOperation.ALTER, ResourceType.TOPIC, topic.name):
                raise TopicAuthorizationFailed("The topic authorization is failed.")
            assignments = (
                None if topic.assignments is None else [list(a.broker_ids) for a in topic.assignments]
            )
            await ctx.broker.topics.create_partitions(
                topic.name, topic.count, assignments=assignments, validate_only=req.validate_only
            )
            entry.update(error_code=ErrorCode.none, error_message=None)
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            entry.update(error_entry(exc))
        results.append(entry)
    return ctx.respond(throttle_time=0, results=results)
