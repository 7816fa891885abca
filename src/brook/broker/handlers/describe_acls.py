"""DescribeAcls (key 29): the ACL bindings a filter selects, grouped by resource pattern (CLUSTER DESCRIBE)."""

from typing import Any

from brook.broker.handlers.acl_common import acl_entry_fields, authorizer_of, filter_from_wire, refusal
from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourcePattern


@handles(29, versions=range(0, 4))
async def describe_acls(ctx: RequestContext, req: Any) -> Any:
    refused = refusal(ctx, AclOperation.DESCRIBE)
    if refused is not None:
        return ctx.respond(throttle_time=0, error_code=refused[0], error_message=refused[1], resources=[])
    acl_filter = filter_from_wire(req)
    unknown = acl_filter.unknown_field()
    if unknown is not None:
        return ctx.respond(
            throttle_time=0, error_code=ErrorCode.invalid_request, error_message=unknown, resources=[]
        )
    grouped: dict[ResourcePattern, list[dict[str, Any]]] = {}
    for binding in authorizer_of(ctx).describe(acl_filter):
        grouped.setdefault(binding.pattern, []).append(acl_entry_fields(binding))
    resources = [
        {
            "resource_type": int(pattern.resource_type),
            "resource_name": pattern.name,
            "pattern_type": int(pattern.pattern_type),
            "acls": acls,
        }
        for pattern, acls in grouped.items()
    ]
    return ctx.respond(throttle_time=0, error_code=ErrorCode.none, error_message=None, resources=resources)
