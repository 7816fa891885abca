"""IncrementalAlterConfigs (key 44): set, delete, append or subtract single topic configs."""

from typing import Any

from brook.broker.authorization import split_config_resources
from brook.broker.config_resources import alter_resources
from brook.broker.handlers.base import RequestContext, handles
from brook.security.acl import AclOperation


@handles(44, versions=range(0, 2))
async def incremental_alter_configs(ctx: RequestContext, req: Any) -> Any:
    allowed, refused = split_config_resources(ctx, req.resources, AclOperation.ALTER_CONFIGS)
    responses = await alter_resources(
        ctx.broker,
        allowed,
        lambda resource: [(c.name, c.config_operation, c.value) for c in resource.configs],
        incremental=True,
        validate_only=req.validate_only,
    )
    return ctx.respond(throttle_time=0, responses=responses + refused)
