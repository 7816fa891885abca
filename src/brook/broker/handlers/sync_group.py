"""SyncGroup (key 14): the leader hands out assignments; every member waits for its own."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.broker.request_metrics import parked
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(14, versions=range(0, 6))
async def sync_group(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        return ctx.respond(throttle_time=0, error_code=ErrorCode.group_authorization_failed, assignment=b"")
    result = await parked(
        ctx.broker.groups.sync(
            req.group_id,
            req.generation_id,
            req.member_id,
            getattr(req, "group_instance_id", None),
            {a.member_id: bytes(a.assignment) for a in req.assignments},
            getattr(req, "protocol_type", None),
            getattr(req, "protocol_name", None),
        )
    )
    return ctx.respond(
        throttle_time=0,
        error_code=result.error_code,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name,
        assignment=result.assignment,
    )
