"""DeleteGroups (key 42): delete empty groups and their committed offsets (tombstones)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles


@handles(42, versions=range(0, 3))
async def delete_groups(ctx: RequestContext, req: Any) -> Any:
    results = ctx.broker.groups.coordinator.delete_groups(list(req.groups_names))
    return ctx.respond(
        throttle_time=0,
        results=[{"group_id": gid, "error_code": code} for gid, code in results.items()],
    )
