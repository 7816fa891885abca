"""DeleteGroups (key 42): delete empty groups and their committed offsets (tombstones)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(42, versions=range(0, 3))
async def delete_groups(ctx: RequestContext, req: Any) -> Any:
    names = list(req.groups_names)
    allowed = [g for g in names if ctx.authorize(AclOperation.DELETE, ResourceType.GROUP, g)]
    deleted = ctx.broker.groups.coordinator.delete_groups(allowed)
    results = {g: deleted.get(g, ErrorCode.group_authorization_failed) for g in names}
    return ctx.respond(
        throttle_time=0,
        results=[{"group_id": gid, "error_code": code} for gid, code in results.items()],
    )
