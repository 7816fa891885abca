"""Kafka's ACL model: resource patterns, access control entries, bindings and the filters that select them.

Pure values, no I/O. The enum values are Kafka's wire codes (clients/.../acl/AclOperation.java,
resource/ResourceType.java, resource/PatternType.java, acl/AclPermissionType.java); `kafka_name` is the
spelling kafka-acls.sh prints and ZooKeeper's ACL documents hold (`Topic`, `DescribeConfigs`, `Allow`).

A binding is (ResourcePattern, AccessControlEntry): "principal P is ALLOWed/DENYed operation O from host H
on resources matching the pattern". A literal pattern named `*` matches every resource of its type; a
prefixed pattern matches every name that starts with it. A principal `User:*` and a host `*` match anyone.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "CLUSTER_NAME",
    "WILDCARD_HOST",
    "WILDCARD_PRINCIPAL",
    "WILDCARD_RESOURCE",
    "AccessControlEntry",
    "AclBinding",
    "AclBindingFilter",
    "AclOperation",
    "InvalidAcl",
    "PatternType",
    "PermissionType",
    "ResourcePattern",
    "ResourceType",
    "check_new_binding",
    "kafka_name",
    "parse_name",
]

WILDCARD_RESOURCE = "*"
WILDCARD_PRINCIPAL = "User:*"
WILDCARD_HOST = "*"
CLUSTER_NAME = "kafka-cluster"  # the one name a CLUSTER resource has


class ResourceType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1  # filters only: any pattern type, the exact name
    MATCH = 2  # filters only: every pattern that would match the name (literal, wildcard, prefixes)
    LITERAL = 3
    PREFIXED = 4


class AclOperation(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1  # filters only
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class PermissionType(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1  # filters only
    DENY = 2
    ALLOW = 3


def kafka_name(value: enum.Enum) -> str:
    """Kafka's display name: TRANSACTIONAL_ID -> TransactionalId, DESCRIBE_CONFIGS -> DescribeConfigs."""
    return "".join(part.capitalize() for part in value.name.split("_"))


_NAMES: dict[type[enum.Enum], dict[str, enum.Enum]] = {}


E = TypeVar("E", bound=enum.Enum)


def parse_name(cls: type[E], text: str) -> E:
    """An enum member from Kafka's spelling in any case, with or without underscores ("DescribeConfigs",
    "describe_configs", "DESCRIBE-CONFIGS"); ValueError when there is none."""
    names = _NAMES.setdefault(cls, {m.name.replace("_", ""): m for m in cls})
    key = re.sub(r"[_\- ]", "", text).upper()
    if key not in names:
        raise ValueError(f"unknown {cls.__name__} {text!r}")
    return names[key]  # type: ignore[return-value]


class InvalidAcl(ValueError):
    """A binding CreateAcls must refuse (Kafka answers INVALID_REQUEST with this message)."""


@dataclass(frozen=True, slots=True, order=True)
class ResourcePattern:
    resource_type: ResourceType
    name: str
    pattern_type: PatternType

    def __str__(self) -> str:
        return f"{kafka_name(self.resource_type)}:{self.pattern_type.name}:{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class AccessControlEntry:
    principal: str
    host: str
    operation: AclOperation
    permission_type: PermissionType

    def __str__(self) -> str:
        return (
            f"{self.principal} has {kafka_name(self.permission_type)} permission for operations: "
            f"{kafka_name(self.operation)} from hosts: {self.host}"
        )


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    pattern: ResourcePattern
    entry: AccessControlEntry


@dataclass(frozen=True, slots=True)
class AclBindingFilter:
    """What DescribeAcls and DeleteAcls select: None and the ANY values match anything."""

    resource_type: ResourceType = ResourceType.ANY
    name: str | None = None
    pattern_type: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: AclOperation = AclOperation.ANY
    permission_type: PermissionType = PermissionType.ANY

    def matches_pattern(self, pattern: ResourcePattern) -> bool:
        """Kafka's ResourcePatternFilter.matches: MATCH selects every pattern that applies to the name."""
        if self.resource_type is not ResourceType.ANY and self.resource_type != pattern.resource_type:
            return False
        if self.pattern_type not in (PatternType.ANY, PatternType.MATCH, pattern.pattern_type):
            return False
        if self.name is None:
            return True
        if self.pattern_type in (PatternType.ANY, pattern.pattern_type):
            return self.name == pattern.name
        if pattern.pattern_type is PatternType.LITERAL:  # MATCH
            return pattern.name in (self.name, WILDCARD_RESOURCE)
        return self.name.startswith(pattern.name)

    def matches_entry(self, entry: AccessControlEntry) -> bool:
        return (
            (self.principal is None or self.principal == entry.principal)
            and (self.host is None or self.host == entry.host)
            and self.operation in (AclOperation.ANY, entry.operation)
            and self.permission_type in (PermissionType.ANY, entry.permission_type)
        )

    def matches(self, binding: AclBinding) -> bool:
        return self.matches_pattern(binding.pattern) and self.matches_entry(binding.entry)

    def unknown_field(self) -> str | None:
        """Why a filter can select nothing Kafka knows of (DescribeAcls/DeleteAcls answer INVALID_REQUEST)."""
        for value in (self.resource_type, self.pattern_type, self.operation, self.permission_type):
            if value.value == 0:
                return f"Filter contains UNKNOWN {type(value).__name__}"
        return None


_PRINCIPAL = re.compile(r"[^:]+:.+", re.DOTALL)


def check_new_binding(binding: AclBinding) -> None:
    """Raise InvalidAcl for a binding Kafka refuses to create (AclAuthorizer.validateAclBinding and
    AclControlManager.validateNewAcl): no UNKNOWN/ANY/MATCH values, a principal `Type:name`, the cluster
    named kafka-cluster, no '/' in a name (it would be a ZooKeeper path)."""
    pattern, entry = binding.pattern, binding.entry
    if pattern.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
        raise InvalidAcl("Invalid resource type")
    if pattern.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        raise InvalidAcl("Invalid pattern type")
    if entry.operation in (AclOperation.UNKNOWN, AclOperation.ANY):
        raise InvalidAcl("Invalid operation")
    if entry.permission_type not in (PermissionType.ALLOW, PermissionType.DENY):
        raise InvalidAcl("Invalid permission type")
    if not pattern.name:
        raise InvalidAcl("Resource name should not be empty")
    if "/" in pattern.name:
        raise InvalidAcl(f"ACL binding contains invalid resource name: {pattern.name}")
    if pattern.resource_type is ResourceType.CLUSTER and pattern.name != CLUSTER_NAME:
        raise InvalidAcl(f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}")
    if not _PRINCIPAL.fullmatch(entry.principal):
        raise InvalidAcl(f"Could not parse principal from `{entry.principal}` (no colon is present)")
    if not entry.host:
        raise InvalidAcl("Invalid host")
