"""AlterConfigs (key 33): replace a topic's config overrides (validated, persisted, applied live)."""

from typing import Any

from brook.broker.authorization import split_config_resources
from brook.broker.config_resources import alter_resources
from brook.broker.handlers.base import RequestContext, handles
from brook.security.acl import AclOperation

_SET = 0


@handles(33, versions=range(0, 3))
async def alter_configs(ctx: RequestContext, req: Any) -> Any:
    allowed, refused = split_config_resources(ctx, req.resources, AclOperation.ALTER_CONFIGS)
    responses = await alter_resources(
        ctx.broker,
        allowed,
        lambda resource: [(c.name, _SET, c.value) for c in resource.configs],
        incremental=False,
        validate_only=req.validate_only,
    )
    return ctx.respond(throttle_time=0, responses=responses + refused)
