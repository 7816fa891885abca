"""CreateAcls (key 30): add ACL bindings (CLUSTER ALTER); each gets its own result, in request order."""

import asyncio
from typing import Any

from brook.broker.handlers.acl_common import authorizer_of, refusal, wire_enum
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.security.acl import (
    AccessControlEntry,
    AclBinding,
    AclOperation,
    InvalidAcl,
    PatternType,
    PermissionType,
    ResourcePattern,
    ResourceType,
)


@handles(30, versions=range(0, 4))
async def create_acls(ctx: RequestContext, req: Any) -> Any:
    refused = refusal(ctx, AclOperation.ALTER)
    if refused is not None:
        code, message = refused
        return ctx.respond(
            throttle_time=0, results=[{"error_code": code, "error_message": message} for _ in req.creations]
        )
    bindings = [_binding(c) for c in req.creations]
    authorizer = authorizer_of(ctx)
    loop = asyncio.get_running_loop()
    outcomes = await loop.run_in_executor(ctx.broker.metadata_executor, authorizer.create, bindings)
    return await ctx.respond_async(throttle_time=0, results=[_result(o) for o in outcomes])


def _binding(c: Any) -> AclBinding:
    return AclBinding(
        ResourcePattern(
            wire_enum(ResourceType, c.resource_type),
            c.resource_name,
            wire_enum(PatternType, getattr(c, "resource_pattern_type", PatternType.LITERAL)),  # v0: literal
        ),
        AccessControlEntry(
            c.principal,
            c.host,
            wire_enum(AclOperation, c.operation),
            wire_enum(PermissionType, c.permission_type),
        ),
    )


def _result(outcome: Exception | None) -> dict[str, Any]:
    if outcome is None:
        return {"error_code": ErrorCode.none, "error_message": None}
    if isinstance(outcome, InvalidAcl):
        return {"error_code": ErrorCode.invalid_request, "error_message": f"Failed to create ACL: {outcome}"}
    return error_entry(outcome)
