"""DescribeClientQuotas (key 48): the quota configs whose entities match the request's filter."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.broker.quota_rules import entity_matches
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(48, versions=range(0, 2))
async def describe_client_quotas(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER):
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.cluster_authorization_failed,
            error_message=None,
            entries=None,
        )
    components = [(c.entity_type, c.match_type, c.match) for c in req.components]
    if any(match_type not in (0, 1, 2) for _, match_type, _ in components):
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.invalid_request,
            error_message="Invalid match type",
            entries=None,
        )
    configs = await ctx.broker.quotas.read_configs()
    entries = [
        {
            "entity": [{"entity_type": t, "entity_name": n} for t, n in entity],
            "values": [{"key": k, "value": v} for k, v in sorted(values.items())],
        }
        for entity, values in sorted(configs.items(), key=lambda item: str(item[0]))
        if entity_matches(entity, components, req.strict)
    ]
    return ctx.respond(throttle_time=0, error_code=ErrorCode.none, error_message=None, entries=entries)
