"""The authorizer's decisions (security/acl_decisions.py), on snapshots built from bindings."""

from brook.security.acl import (
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    PatternType,
    PermissionType,
    ResourcePattern,
    ResourceType,
)
from brook.security.acl_decisions import (
    AclSnapshot,
    AuthorizerSettings,
    Caller,
    authorize,
    authorize_by_resource_type,
    authorized_operations,
    host_matches,
    parse_super_users,
)

ALICE = Caller("User:alice", "10.0.0.1")
BOB = Caller("User:bob", "10.0.0.2")
STRICT = AuthorizerSettings()
TOPIC = ResourceType.TOPIC
OP = AclOperation


def acl(
    name: str,
    principal: str,
    operation: AclOperation,
    permission: PermissionType = PermissionType.ALLOW,
    *,
    resource_type: ResourceType = TOPIC,
    pattern_type: PatternType = PatternType.LITERAL,
    host: str = "*",
) -> AclBinding:
    return AclBinding(
        ResourcePattern(resource_type, name, pattern_type),
        AccessControlEntry(principal, host, operation, permission),
    )


def snapshot(*bindings: AclBinding) -> AclSnapshot:
    acls: dict[ResourcePattern, set[AccessControlEntry]] = {}
    for b in bindings:
        acls.setdefault(b.pattern, set()).add(b.entry)
    return AclSnapshot.of(acls)


def allowed(snap: AclSnapshot, caller: Caller, op: AclOperation, name: str = "orders", **kw: object) -> bool:
    settings = kw.pop("settings", STRICT)
    rtype = kw.pop("resource_type", TOPIC)
    return authorize(snap, settings, caller, op, rtype, name)  # type: ignore[arg-type]


def test_no_acls_denies_unless_allow_everyone_if_no_acl_found() -> None:
    assert not allowed(AclSnapshot(), ALICE, OP.READ)
    assert allowed(
        AclSnapshot(), ALICE, OP.READ, settings=AuthorizerSettings(allow_everyone_if_no_acl_found=True)
    )


def test_allow_everyone_applies_only_to_resources_without_any_acl() -> None:
    snap = snapshot(acl("orders", "User:bob", OP.READ))
    everyone = AuthorizerSettings(allow_everyone_if_no_acl_found=True)
    assert not allowed(snap, ALICE, OP.READ, settings=everyone)  # orders has an ACL (for bob)
    assert allowed(snap, ALICE, OP.READ, "payments", settings=everyone)


def test_literal_allow_grants_only_that_operation_and_name() -> None:
    snap = snapshot(acl("orders", "User:alice", OP.WRITE))
    assert allowed(snap, ALICE, OP.WRITE)
    assert not allowed(snap, ALICE, OP.READ)
    assert not allowed(snap, ALICE, OP.WRITE, "orders2")
    assert not allowed(snap, BOB, OP.WRITE)


def test_read_write_delete_alter_imply_describe() -> None:
    for op in (OP.READ, OP.WRITE, OP.DELETE, OP.ALTER):
        snap = snapshot(acl("orders", "User:alice", op))
        assert allowed(snap, ALICE, OP.DESCRIBE), op
    assert not allowed(snapshot(acl("orders", "User:alice", OP.CREATE)), ALICE, OP.DESCRIBE)
    assert not allowed(snapshot(acl("orders", "User:alice", OP.DESCRIBE)), ALICE, OP.READ)


def test_alter_configs_implies_describe_configs() -> None:
    snap = snapshot(acl("orders", "User:alice", OP.ALTER_CONFIGS))
    assert allowed(snap, ALICE, OP.DESCRIBE_CONFIGS)
    assert not allowed(snapshot(acl("orders", "User:alice", OP.DESCRIBE_CONFIGS)), ALICE, OP.ALTER_CONFIGS)


def test_all_allows_every_operation() -> None:
    snap = snapshot(acl("orders", "User:alice", OP.ALL))
    for op in (OP.READ, OP.WRITE, OP.CREATE, OP.DELETE, OP.ALTER, OP.DESCRIBE, OP.ALTER_CONFIGS):
        assert allowed(snap, ALICE, op)


def test_deny_wins_over_allow() -> None:
    snap = snapshot(
        acl("orders", "User:alice", OP.ALL),
        acl("orders", "User:alice", OP.WRITE, PermissionType.DENY),
    )
    assert not allowed(snap, ALICE, OP.WRITE)
    assert allowed(snap, ALICE, OP.READ)


def test_deny_does_not_imply_other_operations() -> None:
    # denying READ does not deny DESCRIBE (only the operation itself or ALL is denied)
    snap = snapshot(
        acl("orders", "User:alice", OP.DESCRIBE),
        acl("orders", "User:alice", OP.READ, PermissionType.DENY),
    )
    assert allowed(snap, ALICE, OP.DESCRIBE)
    assert not allowed(snap, ALICE, OP.READ)


def test_deny_all_on_wildcard_principal_beats_a_named_allow() -> None:
    snap = snapshot(
        acl("orders", "User:alice", OP.READ),
        acl("*", "User:*", OP.ALL, PermissionType.DENY),
    )
    assert not allowed(snap, ALICE, OP.READ)


def test_wildcard_principal_resource_and_host() -> None:
    snap = snapshot(acl("*", "User:*", OP.READ))
    assert allowed(snap, ALICE, OP.READ, "anything")
    assert allowed(snap, BOB, OP.READ, "orders")
    assert not allowed(snap, BOB, OP.WRITE, "orders")


def test_host_must_match_unless_wildcard() -> None:
    snap = snapshot(acl("orders", "User:alice", OP.READ, host="10.0.0.1"))
    assert allowed(snap, ALICE, OP.READ)
    assert not allowed(snap, Caller("User:alice", "10.0.0.9"), OP.READ)


def test_host_matches_the_address_in_any_of_its_notations() -> None:
    # Kafka writes a client's IPv6 address in full (Java's getHostAddress) and an IPv4-mapped one as IPv4
    snap = snapshot(acl("orders", "User:alice", OP.READ, host="0:0:0:0:0:0:0:1"))
    assert allowed(snap, Caller("User:alice", "::1"), OP.READ)
    assert not allowed(snap, Caller("User:alice", "::2"), OP.READ)
    mapped = snapshot(acl("orders", "User:alice", OP.READ, host="10.0.0.1"))
    assert allowed(mapped, Caller("User:alice", "::ffff:10.0.0.1"), OP.READ)
    assert not allowed(mapped, Caller("User:alice", "::ffff:10.0.0.2"), OP.READ)
    denied = snapshot(
        acl("orders", "User:*", OP.READ),
        acl("orders", "User:alice", OP.READ, host="::1", permission=PermissionType.DENY),
    )
    assert not allowed(denied, Caller("User:alice", "0:0:0:0:0:0:0:1"), OP.READ)
    assert allowed(denied, Caller("User:alice", "127.0.0.1"), OP.READ)
    assert host_matches("*", "fe80::1%eth0")
    assert host_matches("fe80::1", "fe80::1%eth0")
    assert not host_matches("a-host-name", "10.0.0.1")


def test_prefixed_acl_matches_names_starting_with_it() -> None:
    snap = snapshot(acl("team-a.", "User:alice", OP.READ, pattern_type=PatternType.PREFIXED))
    assert allowed(snap, ALICE, OP.READ, "team-a.orders")
    assert allowed(snap, ALICE, OP.READ, "team-a.")
    assert not allowed(snap, ALICE, OP.READ, "team-b.orders")
    assert not allowed(snap, ALICE, OP.READ, "team-a")


def test_prefixed_deny_beats_literal_allow() -> None:
    snap = snapshot(
        acl("team-a.orders", "User:alice", OP.READ),
        acl("team-a.", "User:alice", OP.READ, PermissionType.DENY, pattern_type=PatternType.PREFIXED),
    )
    assert not allowed(snap, ALICE, OP.READ, "team-a.orders")


def test_resource_types_are_separate() -> None:
    snap = snapshot(acl("orders", "User:alice", OP.READ, resource_type=ResourceType.GROUP))
    assert allowed(snap, ALICE, OP.READ, resource_type=ResourceType.GROUP)
    assert not allowed(snap, ALICE, OP.READ, resource_type=TOPIC)


def test_super_users_are_allowed_everything_despite_denies() -> None:
    settings = AuthorizerSettings(super_users=parse_super_users("User:admin; User:alice"))
    snap = snapshot(acl("*", "User:*", OP.ALL, PermissionType.DENY))
    assert allowed(snap, ALICE, OP.WRITE, settings=settings)
    assert not allowed(snap, BOB, OP.WRITE, settings=settings)


def test_authorized_operations_sets_a_bit_per_allowed_supported_operation() -> None:
    snap = snapshot(acl("orders", "User:alice", OP.READ), acl("orders", "User:alice", OP.ALTER_CONFIGS))
    bits = authorized_operations(snap, STRICT, ALICE, TOPIC, "orders")
    expected = {OP.READ, OP.DESCRIBE, OP.ALTER_CONFIGS, OP.DESCRIBE_CONFIGS}
    assert bits == sum(1 << op for op in expected)
    assert authorized_operations(snap, STRICT, BOB, TOPIC, "orders") == 0


def test_by_resource_type_allows_when_some_topic_is_writable() -> None:
    assert not authorize_by_resource_type(AclSnapshot(), STRICT, ALICE, OP.WRITE, TOPIC)
    snap = snapshot(acl("orders", "User:alice", OP.WRITE))
    assert authorize_by_resource_type(snap, STRICT, ALICE, OP.WRITE, TOPIC)
    assert not authorize_by_resource_type(snap, STRICT, BOB, OP.WRITE, TOPIC)


def test_by_resource_type_honours_literal_prefix_and_wildcard_denies() -> None:
    literal_deny = snapshot(
        acl("orders", "User:alice", OP.WRITE), acl("orders", "User:alice", OP.WRITE, PermissionType.DENY)
    )
    assert not authorize_by_resource_type(literal_deny, STRICT, ALICE, OP.WRITE, TOPIC)
    prefix_deny = snapshot(
        acl("team-a.orders", "User:alice", OP.WRITE),
        acl("team-", "User:alice", OP.WRITE, PermissionType.DENY, pattern_type=PatternType.PREFIXED),
    )
    assert not authorize_by_resource_type(prefix_deny, STRICT, ALICE, OP.WRITE, TOPIC)
    wildcard_deny = snapshot(
        acl("*", "User:alice", OP.WRITE), acl("*", "User:*", OP.WRITE, PermissionType.DENY)
    )
    assert not authorize_by_resource_type(wildcard_deny, STRICT, ALICE, OP.WRITE, TOPIC)
    assert authorize_by_resource_type(snapshot(acl("*", "User:*", OP.ALL)), STRICT, ALICE, OP.WRITE, TOPIC)


def test_match_filter_selects_literal_wildcard_and_prefixes_of_the_name() -> None:
    snap = snapshot(
        acl("team-a.orders", "User:alice", OP.READ),
        acl("*", "User:bob", OP.READ),
        acl("team-", "User:alice", OP.WRITE, pattern_type=PatternType.PREFIXED),
        acl("team-b", "User:alice", OP.WRITE, pattern_type=PatternType.PREFIXED),
        acl("other", "User:alice", OP.READ),
    )
    found = snap.select(AclBindingFilter(TOPIC, "team-a.orders", PatternType.MATCH))
    assert {(b.pattern.name, b.pattern.pattern_type) for b in found} == {
        ("team-a.orders", PatternType.LITERAL),
        ("*", PatternType.LITERAL),
        ("team-", PatternType.PREFIXED),
    }
    exact = snap.select(AclBindingFilter(TOPIC, "team-", PatternType.ANY))
    assert [b.pattern for b in exact] == [ResourcePattern(TOPIC, "team-", PatternType.PREFIXED)]
    by_principal = snap.select(AclBindingFilter(principal="User:bob"))
    assert [b.pattern.name for b in by_principal] == ["*"]
