"""What CreateAcls, DescribeAcls and DeleteAcls share: wire values to ACL model values, and the checks first.

No handler here: handlers/create_acls.py, describe_acls.py and delete_acls.py register themselves.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from brook.broker.handlers.base import RequestContext
from brook.common.errors import ErrorCode
from brook.security.acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    PatternType,
    PermissionType,
    ResourceType,
)
from brook.security.authorizer import AclAuthorizer

__all__ = ["acl_entry_fields", "filter_from_wire", "refusal", "wire_enum"]

E = TypeVar("E", bound=enum.IntEnum)

NO_AUTHORIZER = "No Authorizer is configured on the broker"


def wire_enum(cls: type[E], value: int) -> E:
    """A wire code as the enum; a code brook does not know is UNKNOWN (0), as Kafka reads it."""
    try:
        return cls(value)
    except ValueError:
        return cls(0)


def filter_from_wire(f: Any) -> AclBindingFilter:
    return AclBindingFilter(
        resource_type=wire_enum(ResourceType, f.resource_type_filter),
        name=f.resource_name_filter,
        pattern_type=wire_enum(
            PatternType, getattr(f, "pattern_type_filter", PatternType.LITERAL)
        ),  # v0: literal
        principal=f.principal_filter,
        host=f.host_filter,
        operation=wire_enum(AclOperation, f.operation),
        permission_type=wire_enum(PermissionType, f.permission_type),
    )


def acl_entry_fields(binding: AclBinding) -> dict[str, Any]:
    return {
        "principal": binding.entry.principal,
        "host": binding.entry.host,
        "operation": int(binding.entry.operation),
        "permission_type": int(binding.entry.permission_type),
    }


def refusal(ctx: RequestContext, operation: AclOperation) -> tuple[ErrorCode, str] | None:
    """Why this request may not touch ACLs: no authorizer (SECURITY_DISABLED), or the principal lacks
    `operation` on the cluster (CLUSTER_AUTHORIZATION_FAILED); None when it may."""
    if ctx.broker.authorizer is None:
        return ErrorCode.security_disabled, NO_AUTHORIZER
    if not ctx.authorize(operation, ResourceType.CLUSTER):
        return ErrorCode.cluster_authorization_failed, "Cluster authorization failed."
    return None


def authorizer_of(ctx: RequestContext) -> AclAuthorizer:
    authorizer = ctx.broker.authorizer
    assert authorizer is not None, "refusal() is asked first"
    return authorizer
