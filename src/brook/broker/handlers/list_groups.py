"""ListGroups (key 16): the groups this broker coordinates, optionally filtered by state (v4, KIP-518)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.security.acl import AclOperation, ResourceType


@handles(16, versions=range(0, 5))
async def list_groups(ctx: RequestContext, req: Any) -> Any:
    error, groups = ctx.broker.groups.coordinator.list_groups(getattr(req, "states_filter", ()) or ())
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.CLUSTER):  # then only groups it may describe
        groups = [g for g in groups if ctx.authorize(AclOperation.DESCRIBE, ResourceType.GROUP, g[0])]
    return ctx.respond(
        throttle_time=0,
        error_code=error,
        groups=[
            {"group_id": gid, "protocol_type": ptype, "group_state": state} for gid, ptype, state in groups
        ],
    )
