"""LeaveGroup (key 13): one member (v0-2) or a batch of members by id or group.instance.id (v3+, KIP-345)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(13, versions=range(0, 5))
async def leave_group(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        return ctx.respond(throttle_time=0, error_code=ErrorCode.group_authorization_failed, members=[])
    members: list[tuple[str, str | None]]
    if ctx.version < 3:
        members = [(req.member_id, None)]
    else:
        members = [(m.member_id, m.group_instance_id) for m in req.members]
    error, results = ctx.broker.groups.coordinator.leave_group(req.group_id, members)
    if ctx.version < 3:
        return ctx.respond(throttle_time=0, error_code=error or (results[0] if results else 0))
    return ctx.respond(
        throttle_time=0,
        error_code=error,
        members=[
            {"member_id": mid, "group_instance_id": iid, "error_code": code}
            for (mid, iid), code in zip(members, results, strict=False)
        ],
    )
