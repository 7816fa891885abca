"""AlterConfigs (key 33): replace a topic's config overrides (validated, persisted, applied live)."""

from typing import Any

from brook.broker.config_resources import alter_resources
from brook.broker.handlers.base import RequestContext, handles

_SET = 0


@handles(33, versions=range(0, 3))
async def alter_configs(ctx: RequestContext, req: Any) -> Any:
    responses = await alter_resources(
        ctx.broker,
        req.resources,
        lambda resource: [(c.name, _SET, c.value) for c in resource.configs],
        incremental=False,
        validate_only=req.validate_only,
    )
    return ctx.respond(throttle_time=0, responses=responses)
