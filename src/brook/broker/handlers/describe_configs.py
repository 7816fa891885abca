"""DescribeConfigs (key 32): every config of a topic or the broker, with value, source and default flag."""

from typing import Any

from brook.broker.authorization import config_refusal
from brook.broker.config_resources import describe_resource
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation


@handles(32, versions=range(0, 5))
async def describe_configs(ctx: RequestContext, req: Any) -> Any:
    results = []
    for resource in req.resources:
        entry: dict[str, Any] = {
            "resource_type": resource.resource_type,
            "resource_name": resource.resource_name,
        }
        try:
            refused = config_refusal(
                ctx, resource.resource_type, resource.resource_name, AclOperation.DESCRIBE_CONFIGS
            )
            if refused is not None:
                raise refused
            keys = list(resource.configuration_keys) if resource.configuration_keys is not None else None
            configs = describe_resource(
                ctx.broker,
                resource.resource_type,
                resource.resource_name,
                keys,
                include_synonyms=bool(req.include_synonyms),
            )
            entry.update(error_code=ErrorCode.none, error_message=None, configs=configs)
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            entry.update(error_entry(exc), configs=[])
        results.append(entry)
    return ctx.respond(throttle_time=0, results=results)
