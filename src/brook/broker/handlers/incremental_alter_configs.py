"""IncrementalAlterConfigs (key 44): set, delete, append or subtract single topic configs."""

from typing import Any

from brook.broker.config_resources import alter_resources
from brook.broker.handlers.base import RequestContext, handles


@handles(44, versions=range(0, 2))
async def incremental_alter_configs(ctx: RequestContext, req: Any) -> Any:
    responses = await alter_resources(
        ctx.broker,
        req.resources,
        lambda resource: [(c.name, c.config_operation, c.value) for c in resource.configs],
        incremental=True,
        validate_only=req.validate_only,
    )
    return ctx.respond(throttle_time=0, responses=responses)
