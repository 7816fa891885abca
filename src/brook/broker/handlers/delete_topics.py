"""DeleteTopics (key 20): by name, or by topic id from v6."""

from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(20, versions=range(0, 7))
async def delete_topics(ctx: RequestContext, req: Any) -> Any:
    topics = ctx.broker.topics
    if ctx.version >= 6:
        requested = [(t.name, t.topic_id) for t in req.topics]
    else:
        requested = [(name, None) for name in req.topic_names]
    results = []
    for name, topic_id in requested:
        entry: dict[str, Any] = {"name": name, "topic_id": topic_id}
        try:
            if name is None:
                name = topics.name_for_id(topic_id)
                if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, name):
                    raise TopicAuthorizationFailed()  # by id: the name stays hidden
                entry["name"] = name
            if not ctx.authorize(AclOperation.DELETE, ResourceType.TOPIC, name):
                raise TopicAuthorizationFailed()
            topics.reject_internal(name)
            state = await topics.delete_topic(name)
            entry.update(error_code=ErrorCode.none, topic_id=state.topic_id)
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            entry.update(error_entry(exc))
        if entry["topic_id"] is None:
            entry["topic_id"] = "00000000-0000-0000-0000-000000000000"
        results.append(entry)
    return ctx.respond(throttle_time=0, responses=results)
