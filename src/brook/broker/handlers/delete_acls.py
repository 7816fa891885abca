"""DeleteAcls (key 31): remove the bindings each filter selects (CLUSTER ALTER); each filter's result lists
the bindings it removed."""

import asyncio
from typing import Any

from brook.broker.handlers.acl_common import acl_entry_fields, authorizer_of, filter_from_wire, refusal
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclBinding, AclOperation


@handles(31, versions=range(0, 4))
async def delete_acls(ctx: RequestContext, req: Any) -> Any:
    refused = refusal(ctx, AclOperation.ALTER)
    if refused is not None:
        code, message = refused
        error = {"error_code": code, "error_message": message, "matching_acls": []}
        return ctx.respond(throttle_time=0, filter_results=[error for _ in req.filters])
    filters = [filter_from_wire(f) for f in req.filters]
    results: list[dict[str, Any] | None] = [None] * len(filters)
    valid = []
    for index, acl_filter in enumerate(filters):
        unknown = acl_filter.unknown_field()
        if unknown is None:
            valid.append(index)
        else:
            results[index] = {
                "error_code": ErrorCode.invalid_request,
                "error_message": unknown,
                "matching_acls": [],
            }
    authorizer = authorizer_of(ctx)
    loop = asyncio.get_running_loop()
    deleted = await loop.run_in_executor(
        ctx.broker.metadata_executor, authorizer.delete, [filters[i] for i in valid]
    )
    for index, outcome in zip(valid, deleted, strict=True):
        results[index] = _result(outcome)
    return await ctx.respond_async(throttle_time=0, filter_results=results)


def _result(outcome: list[AclBinding] | Exception) -> dict[str, Any]:
    if isinstance(outcome, Exception):
        return {**error_entry(outcome), "matching_acls": []}
    matching = [
        {
            "error_code": ErrorCode.none,
            "error_message": None,
            "resource_type": int(b.pattern.resource_type),
            "resource_name": b.pattern.name,
            "pattern_type": int(b.pattern.pattern_type),
            **acl_entry_fields(b),
        }
        for b in outcome
    ]
    return {"error_code": ErrorCode.none, "error_message": None, "matching_acls": matching}
