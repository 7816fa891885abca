"""Heartbeat (key 12): keeps a member's session alive and tells it when to rejoin."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(12, versions=range(0, 5))
async def heartbeat(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        return ctx.respond(throttle_time=0, error_code=ErrorCode.group_authorization_failed)
    error = ctx.broker.groups.coordinator.heartbeat(
        req.group_id, req.generation_id, req.member_id, getattr(req, "group_instance_id", None)
    )
    return ctx.respond(throttle_time=0, error_code=error)
