"""DescribeGroups (key 15): state, protocol and members (with assignments when Stable) of groups."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles

_NO_OPERATIONS = -(2**31)  # authorized_operations when not requested (Kafka's INT32_MIN)


@handles(15, versions=range(0, 6))
async def describe_groups(ctx: RequestContext, req: Any) -> Any:
    coordinator = ctx.broker.groups.coordinator
    described = []
    for group_id in req.groups:
        error, d = coordinator.describe_group(group_id)
        entry: dict[str, Any] = {
            "error_code": error,
            "group_id": group_id,
            "group_state": "",
            "protocol_type": "",
            "protocol_data": "",
            "members": [],
            "authorized_operations": _NO_OPERATIONS,
        }
        if d is not None:
            entry.update(
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
