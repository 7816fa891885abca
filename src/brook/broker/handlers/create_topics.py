"""CreateTopics (key 19): validated creation with per-topic configs; validate_only checks without creating."""

from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(19, versions=range(0, 8))
async def create_topics(ctx: RequestContext, req: Any) -> Any:
    topics_service = ctx.broker.topics
    results = []
    cluster_create = ctx.authorize(AclOperation.CREATE, ResourceType.CLUSTER)
    for topic in req.topics:
        entry: dict[str, Any] = {"name": topic.name}
        # CREATE on the cluster or the topic; without DESCRIBE_CONFIGS the answer holds no configs (v5+)
        describe_configs = ctx.authorize(AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, topic.name)
        if not describe_configs:
            entry["topic_config_error_code"] = ErrorCode.topic_authorization_failed
        try:
            if not (cluster_create or ctx.authorize(AclOperation.CREATE, ResourceType.TOPIC, topic.name)):
                raise TopicAuthorizationFailed("Authorization failed.")
            configs = {c.name: c.value for c in topic.configs}
            assignments = {a.partition_index: list(a.broker_ids) for a in topic.assignments}
            state = await topics_service.create_topic(
                topic.name,
                topic.num_partitions,
                topic.replication_factor,
                configs,
                assignments=assignments,
                validate_only=req.validate_only,
            )
            entry.update(
                error_code=ErrorCode.none,
                topic_id=state.topic_id,
                num_partitions=len(state.partitions),
                replication_factor=len(state.partitions[0].replicas) if state.partitions else -1,
                configs=[
                    {
                        "name": name,
                        "value": value,
                        "read_only": False,
                        "config_source": source,
                        "is_sensitive": False,
                    }
                    for name, (value, source) in topics_service.describe_topic_configs(state).items()
                    if describe_configs
                ],
            )
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            entry.update(error_entry(exc), num_partitions=-1, replication_factor=-1)
        results.append(entry)
    return ctx.respond(throttle_time=0, topics=results)
