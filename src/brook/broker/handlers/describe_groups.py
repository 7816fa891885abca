"""DescribeGroups (key 15): state, protocol and members (with assignments when Stable) of groups."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, requested_operations
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType
from brook.security.acl_decisions import NO_AUTHORIZED_OPERATIONS


@handles(15, versions=range(0, 6))
async def describe_groups(ctx: RequestContext, req: Any) -> Any:
    coordinator = ctx.broker.groups.coordinator
    described = []
    with_operations = getattr(req, "include_authorized_operations", False)
    for group_id in req.groups:
        if ctx.authorize(AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
            error, d = coordinator.describe_group(group_id)
        else:
            error, d = ErrorCode.group_authorization_failed, None
        entry: dict[str, Any] = {
            "error_code": error,
            "group_id": group_id,
            "group_state": "",
            "protocol_type": "",
            "protocol_data": "",
            "members": [],
            "authorized_operations": NO_AUTHORIZED_OPERATIONS,
        }
        if d is not None:
            entry.update(
                authorized_operations=requested_operations(
                    ctx, with_operations, ResourceType.GROUP, group_id
                ),
                group_state=d.state,
                protocol_type=d.protocol_type,
                protocol_data=d.protocol_name,
                members=[
                    {
                        "member_id": m.member_id,
                        "group_instance_id": m.group_instance_id,
                        "client_id": m.client_id,
                        "client_host": m.client_host,
                        "member_metadata": m.metadata,
                        "member_assignment": m.assignment,
                    }
                    for m in d.members
                ],
            )
        described.append(entry)
    return ctx.respond(throttle_time=0, groups=described)
