"""The authorizer's decisions, as pure functions on an immutable snapshot of every ACL (Kafka's AclAuthorizer).

A request is allowed when the principal is a super user, or when
  - no ACL at all applies to the resource and `allow.everyone.if.no.acl.found` is true, or
  - no DENY entry matches (principal or User:*, host or *, the operation itself or ALL), and
  - an ALLOW entry matches the operation or one that implies it: READ, WRITE, DELETE and ALTER imply
    DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS; ALL implies everything.
The ACLs that apply to a resource are those on its literal name, on the literal wildcard `*`, and on every
prefixed pattern its name starts with. Deny wins over allow, whichever pattern each came from.
An entry's host matches the client's address as an address, not as text: Kafka compares the text Java writes
(IPv6 in full, "0:0:0:0:0:0:0:1"; an IPv4-mapped address as IPv4), so brook takes "::1" and
"0:0:0:0:0:0:0:1" as the same host, and a client on "::ffff:10.0.0.1" as "10.0.0.1".
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from brook.security.acl import (
    WILDCARD_HOST,
    WILDCARD_PRINCIPAL,
    WILDCARD_RESOURCE,
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    PatternType,
    PermissionType,
    ResourcePattern,
    ResourceType,
)

__all__ = [
    "NO_AUTHORIZED_OPERATIONS",
    "OPERATIONS_BY_RESOURCE",
    "AclSnapshot",
    "AuthorizerSettings",
    "Caller",
    "authorize",
    "authorize_by_resource_type",
    "authorized_operations",
    "parse_super_users",
]

NO_AUTHORIZED_OPERATIONS = -(2**31)  # authorized_operations when the client did not ask (Kafka's INT32_MIN)

# The operations each resource type supports (Kafka's AclEntry.supportedOperations): the bits of
# `authorized_operations`, and what kafka-acls.sh accepts per resource.
OPERATIONS_BY_RESOURCE: Mapping[ResourceType, frozenset[AclOperation]] = {
    ResourceType.TOPIC: frozenset(
        {
            AclOperation.READ,
            AclOperation.WRITE,
            AclOperation.CREATE,
            AclOperation.DESCRIBE,
            AclOperation.DELETE,
            AclOperation.ALTER,
            AclOperation.DESCRIBE_CONFIGS,
            AclOperation.ALTER_CONFIGS,
        }
    ),
    ResourceType.GROUP: frozenset({AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE}),
    ResourceType.CLUSTER: frozenset(
        {
            AclOperation.CREATE,
            AclOperation.CLUSTER_ACTION,
            AclOperation.DESCRIBE_CONFIGS,
            AclOperation.ALTER_CONFIGS,
            AclOperation.IDEMPOTENT_WRITE,
            AclOperation.ALTER,
            AclOperation.DESCRIBE,
        }
    ),
    ResourceType.TRANSACTIONAL_ID: frozenset({AclOperation.DESCRIBE, AclOperation.WRITE}),
    ResourceType.DELEGATION_TOKEN: frozenset({AclOperation.DESCRIBE}),
    ResourceType.USER: frozenset({AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS}),
}

_IMPLIED_BY: Mapping[AclOperation, frozenset[AclOperation]] = {
    AclOperation.DESCRIBE: frozenset(
        {
            AclOperation.DESCRIBE,
            AclOperation.READ,
            AclOperation.WRITE,
            AclOperation.DELETE,
            AclOperation.ALTER,
        }
    ),
    AclOperation.DESCRIBE_CONFIGS: frozenset({AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS}),
}


@dataclass(frozen=True, slots=True)
class AuthorizerSettings:
    super_users: frozenset[str] = frozenset()
    allow_everyone_if_no_acl_found: bool = False


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the connection's principal ("User:alice") and the client's IP address ("127.0.0.1")."""

    principal: str
    host: str


def parse_super_users(value: str) -> frozenset[str]:
    """`super.users`: principals separated by semicolons ("User:admin;User:broker")."""
    return frozenset(p.strip() for p in value.split(";") if p.strip())


@dataclass(frozen=True)
class AclSnapshot:
    """Every ACL, by resource pattern; immutable (a change builds a new snapshot with `replace`)."""

    acls: Mapping[ResourcePattern, frozenset[AccessControlEntry]] = field(default_factory=dict)
    # the same entries by (resource type, name), split by pattern type: what a decision looks up
    _literal: Mapping[tuple[ResourceType, str], frozenset[AccessControlEntry]] = field(
        default_factory=dict, repr=False
    )
    _prefixed: Mapping[tuple[ResourceType, str], frozenset[AccessControlEntry]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def of(cls, acls: Mapping[ResourcePattern, Iterable[AccessControlEntry]]) -> AclSnapshot:
        kept = {pattern: frozenset(entries) for pattern, entries in acls.items() if entries}
        by_type: dict[PatternType, dict[tuple[ResourceType, str], frozenset[AccessControlEntry]]] = {
            PatternType.LITERAL: {},
            PatternType.PREFIXED: {},
        }
        for p, entries in kept.items():
            by_type.setdefault(p.pattern_type, {})[(p.resource_type, p.name)] = entries  # others never match
        return cls(kept, by_type[PatternType.LITERAL], by_type[PatternType.PREFIXED])

    def replace(self, pattern: ResourcePattern, entries: Iterable[AccessControlEntry]) -> AclSnapshot:
        """This snapshot with `pattern`'s entries replaced (none: the pattern is gone)."""
        acls = dict(self.acls)
        acls[pattern] = frozenset(entries)
        return AclSnapshot.of(acls)

    def entries(self, pattern: ResourcePattern) -> frozenset[AccessControlEntry]:
        return self.acls.get(pattern, frozenset())

    def bindings(self) -> Iterator[AclBinding]:
        for pattern in sorted(self.acls):
            for entry in sorted(self.acls[pattern]):
                yield AclBinding(pattern, entry)

    def select(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        """The bindings a DescribeAcls/DeleteAcls filter selects, in a stable order."""
        return [b for b in self.bindings() if acl_filter.matches(b)]

    def matching(self, resource_type: ResourceType, name: str) -> list[AccessControlEntry]:
        """The entries that apply to this resource: its literal name, the wildcard, and prefixes of the name."""
        found: list[AccessControlEntry] = []
        found.extend(self._literal.get((resource_type, name), ()))
        found.extend(self._literal.get((resource_type, WILDCARD_RESOURCE), ()))
        if self._prefixed:
            for end in range(1, len(name) + 1):
                found.extend(self._prefixed.get((resource_type, name[:end]), ()))
        return found


def _matches(entry: AccessControlEntry, caller: Caller, operation: AclOperation) -> bool:
    return (
        entry.principal in (caller.principal, WILDCARD_PRINCIPAL)
        and host_matches(entry.host, caller.host)
        and entry.operation in (operation, AclOperation.ALL)
    )


def host_matches(acl_host: str, client_host: str) -> bool:
    """Does an ACL entry's host (an address or `*`) name the client's address?"""
    return acl_host in (client_host, WILDCARD_HOST) or _address(acl_host) == _address(client_host)


@functools.lru_cache(maxsize=4096)
def _address(host: str) -> str:
    """One text per address: IPv6 compressed, an IPv4-mapped IPv6 address as IPv4; other text as it is."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _allowed_by(entries: list[AccessControlEntry], caller: Caller, operation: AclOperation) -> bool:
    if any(e.permission_type is PermissionType.DENY and _matches(e, caller, operation) for e in entries):
        return False
    wanted = _IMPLIED_BY.get(operation, frozenset({operation}))
    return any(
        e.permission_type is PermissionType.ALLOW and _matches(e, caller, op)
        for e in entries
        for op in wanted
    )


def authorize(
    snapshot: AclSnapshot,
    settings: AuthorizerSettings,
    caller: Caller,
    operation: AclOperation,
    resource_type: ResourceType,
    name: str,
) -> bool:
    """May `caller` perform `operation` on the resource (resource_type, name)?"""
    if caller.principal in settings.super_users:
        return True
    entries = snapshot.matching(resource_type, name)
    if not entries:
        return settings.allow_everyone_if_no_acl_found
    return _allowed_by(entries, caller, operation)


def authorized_operations(
    snapshot: AclSnapshot,
    settings: AuthorizerSettings,
    caller: Caller,
    resource_type: ResourceType,
    name: str,
) -> int:
    """Kafka's `authorized_operations` bit field: bit `op` set for each supported operation allowed."""
    bits = 0
    for operation in OPERATIONS_BY_RESOURCE.get(resource_type, ()):
        if authorize(snapshot, settings, caller, operation, resource_type, name):
            bits |= 1 << operation
    return bits


def authorize_by_resource_type(
    snapshot: AclSnapshot,
    settings: AuthorizerSettings,
    caller: Caller,
    operation: AclOperation,
    resource_type: ResourceType,
) -> bool:
    """Is `operation` allowed on at least one resource of the type (KIP-679, Authorizer.authorizeByResourceType:
    InitProducerId without IDEMPOTENT_WRITE is allowed to a principal that may write some topic)?

    A literal or prefixed allow counts unless a deny on the same literal name or on a prefix of it takes it
    back; a wildcard deny takes everything back, a wildcard allow gives everything."""
    if authorize(snapshot, settings, caller, operation, resource_type, "hardcode"):
        return True  # super users (and allow-everyone with no ACLs), as Kafka checks a made-up name
    deny: dict[PatternType, set[str]] = {PatternType.LITERAL: set(), PatternType.PREFIXED: set()}
    allow: dict[PatternType, set[str]] = {PatternType.LITERAL: set(), PatternType.PREFIXED: set()}
    wildcard_allow = False
    for pattern, entries in snapshot.acls.items():
        if pattern.resource_type != resource_type:
            continue
        for entry in entries:
            if not _matches(entry, caller, operation):
                continue
            literal_wildcard = (
                pattern.pattern_type is PatternType.LITERAL and pattern.name == WILDCARD_RESOURCE
            )
            if entry.permission_type is PermissionType.DENY:
                if literal_wildcard:
                    return False
                deny[pattern.pattern_type].add(pattern.name)
            elif literal_wildcard:
                wildcard_allow = True
            else:
                allow[pattern.pattern_type].add(pattern.name)
    if wildcard_allow:
        return True
    for pattern_type, names in allow.items():
        for name in names:
            if pattern_type is PatternType.LITERAL and name in deny[PatternType.LITERAL]:
                continue
            if not any(name[:end] in deny[PatternType.PREFIXED] for end in range(1, len(name) + 1)):
                return True
    return False
