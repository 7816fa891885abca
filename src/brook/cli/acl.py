"""`brook acl`: ACLs, with kafka-acls.sh's flags (CreateAcls, DescribeAcls, DeleteAcls through the Admin client).

    brook acl create --allow-principal User:alice --operation Read --operation Write --topic orders
    brook acl create --allow-principal User:alice --operation All --topic team-a. --resource-pattern-type prefixed
    brook acl create --deny-principal User:bob --deny-host 10.0.0.9 --operation Read --group payments
    brook acl create --allow-principal User:app --consumer --topic orders --group app
    brook acl list [--topic orders --resource-pattern-type match] [--principal User:alice]
    brook acl delete --allow-principal User:alice --operation Write --topic orders

A secured cluster takes the client's settings with -X or --command-config (security.protocol, sasl.*).
Names are Kafka's, in any case (Read, DescribeConfigs, describe_configs); --operation defaults to All.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from brook.cli._common import (
    admin_client,
    client_options,
    emit,
    format_option,
    render_table,
    result_of,
    settings,
)
from brook.security.acl import (
    CLUSTER_NAME,
    WILDCARD_HOST,
    AclOperation,
    PatternType,
    PermissionType,
    ResourceType,
    kafka_name,
    parse_name,
)
from brook.security.acl_decisions import OPERATIONS_BY_RESOURCE

__all__ = ["acl"]


@dataclass(frozen=True)
class _Ace:
    principal: str
    host: str
    operation: AclOperation
    permission: PermissionType


def _resource_options(func: Any) -> Any:
    options = [
        click.option("--topic", "topics", multiple=True, help="Topic (repeatable; '*' is every topic)"),
        click.option(
            "--group", "groups", multiple=True, help="Consumer group (repeatable; '*' is every group)"
        ),
        click.option("--cluster", is_flag=True, help="The cluster"),
        click.option(
            "--transactional-id", "transactional_ids", multiple=True, help="Transactional id (repeatable)"
        ),
        click.option(
            "--resource-pattern-type",
            "pattern_type",
            default="literal",
            show_default=True,
            type=click.Choice(["literal", "prefixed", "match", "any"], case_sensitive=False),
            help="How resource names match (match/any only for list and delete)",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _entry_options(func: Any) -> Any:
    options = [
        click.option("--allow-principal", "allow_principals", multiple=True, metavar="TYPE:NAME"),
        click.option("--deny-principal", "deny_principals", multiple=True, metavar="TYPE:NAME"),
        click.option(
            "--allow-host", "allow_hosts", multiple=True, help="Host of the allow principals (default *)"
        ),
        click.option(
            "--deny-host", "deny_hosts", multiple=True, help="Host of the deny principals (default *)"
        ),
        click.option("--operation", "operations", multiple=True, help="Operation (repeatable; default All)"),
        click.option("--producer", is_flag=True, help="Convenience: WRITE, DESCRIBE, CREATE on the topics"),
        click.option(
            "--consumer", is_flag=True, help="Convenience: READ, DESCRIBE on the topics, READ on the groups"
        ),
        click.option("--idempotent", is_flag=True, help="With --producer: IDEMPOTENT_WRITE on the cluster"),
        click.option("--force", is_flag=True, help="Kafka's flag (brook never asks for confirmation)"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _resources(flags: dict[str, Any]) -> list[tuple[ResourceType, str]]:
    resources = [(ResourceType.TOPIC, t) for t in flags["topics"]]
    resources += [(ResourceType.GROUP, g) for g in flags["groups"]]
    resources += [(ResourceType.TRANSACTIONAL_ID, t) for t in flags["transactional_ids"]]
    if flags["cluster"]:
        resources.append((ResourceType.CLUSTER, CLUSTER_NAME))
    return resources


def _operations(names: tuple[str, ...]) -> list[AclOperation]:
    try:
        return [parse_name(AclOperation, n) for n in names] or [AclOperation.ALL]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--operation") from None


def _entries(flags: dict[str, Any], operations: list[AclOperation]) -> list[_Ace]:
    entries: list[_Ace] = []
    for principals, hosts, permission in (
        (flags["allow_principals"], flags["allow_hosts"], PermissionType.ALLOW),
        (flags["deny_principals"], flags["deny_hosts"], PermissionType.DENY),
    ):
        for principal in principals:
            if ":" not in principal:
                raise click.BadParameter(f"expected TYPE:NAME (User:alice), got {principal!r}")
            for host in hosts or (WILDCARD_HOST,):
                entries.extend(_Ace(principal, host, op, permission) for op in operations)
    return entries


def _bindings(
    flags: dict[str, Any], pattern: PatternType
) -> list[tuple[ResourceType, str, PatternType, _Ace]]:
    """(resource, pattern, entry) for every combination the flags name, checked as kafka-acls.sh checks."""
    resources = _resources(flags)
    if not resources:
        raise click.UsageError("name a resource: --topic, --group, --cluster or --transactional-id")
    if flags["producer"] or flags["consumer"]:
        return _convenience_bindings(flags, resources, pattern)
    operations = _operations(flags["operations"])
    entries = _entries(flags, operations)
    if not entries:
        raise click.UsageError("give --allow-principal and/or --deny-principal")
    for resource_type, _ in resources:
        unsupported = [
            op
            for op in operations
            if op is not AclOperation.ALL and op not in OPERATIONS_BY_RESOURCE[resource_type]
        ]
        if unsupported:
            allowed = ", ".join(sorted(kafka_name(o) for o in OPERATIONS_BY_RESOURCE[resource_type]))
            raise click.UsageError(
                f"ResourceType {kafka_name(resource_type)} only supports operations {allowed}, All"
            )
    return [(rtype, name, pattern, entry) for rtype, name in resources for entry in entries]


def _convenience_bindings(
    flags: dict[str, Any], resources: list[tuple[ResourceType, str]], pattern: PatternType
) -> list[tuple[ResourceType, str, PatternType, _Ace]]:
    """--producer / --consumer, as kafka-acls.sh expands them."""
    wanted: dict[ResourceType, list[AclOperation]] = {}
    if flags["producer"]:
        wanted[ResourceType.TOPIC] = [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE]
        wanted[ResourceType.TRANSACTIONAL_ID] = [AclOperation.WRITE, AclOperation.DESCRIBE]
        if flags["idempotent"]:
            resources = [*resources, (ResourceType.CLUSTER, CLUSTER_NAME)]
            wanted[ResourceType.CLUSTER] = [AclOperation.IDEMPOTENT_WRITE]
    if flags["consumer"]:
        wanted.setdefault(ResourceType.TOPIC, []).extend([AclOperation.READ, AclOperation.DESCRIBE])
        wanted[ResourceType.GROUP] = [AclOperation.READ]
    bindings: list[tuple[ResourceType, str, PatternType, _Ace]] = []
    for rtype, name in resources:
        ops = list(dict.fromkeys(wanted.get(rtype, [])))
        rpattern = PatternType.LITERAL if rtype is ResourceType.CLUSTER else pattern
        bindings.extend((rtype, name, rpattern, entry) for entry in _entries(flags, ops))
    if not bindings:
        raise click.UsageError("give --allow-principal and/or --deny-principal")
    return bindings


def _pattern(flags: dict[str, Any], *, filter_ok: bool) -> PatternType:
    pattern = parse_name(PatternType, flags.pop("pattern_type"))
    if not filter_ok and pattern not in (PatternType.LITERAL, PatternType.PREFIXED):
        raise click.BadParameter("create takes literal or prefixed", param_hint="--resource-pattern-type")
    return pattern


def _confluent_binding(rtype: ResourceType, name: str, pattern: PatternType, entry: _Ace) -> Any:
    from confluent_kafka.admin import AclBinding

    ck_type, ck_pattern, ck_op, ck_perm = _confluent_enums(rtype, pattern, entry.operation, entry.permission)
    return AclBinding(ck_type, name, ck_pattern, entry.principal, entry.host, ck_op, ck_perm)


def _confluent_enums(
    rtype: ResourceType, pattern: PatternType, operation: AclOperation, permission: PermissionType
) -> tuple[Any, ...]:
    """confluent-kafka's enums carry Kafka's codes (its BROKER is Kafka's CLUSTER)."""
    from confluent_kafka import admin as ck

    return (
        ck.ResourceType(int(rtype)),
        ck.ResourcePatternType(int(pattern)),
        ck.AclOperation(int(operation)),
        ck.AclPermissionType(int(permission)),
    )


def _row(binding: Any) -> dict[str, str]:
    return {
        "resource_type": kafka_name(ResourceType(binding.restype.value)),
        "name": binding.name,
        "pattern_type": PatternType(binding.resource_pattern_type.value).name,
        "principal": binding.principal,
        "host": binding.host,
        "operation": kafka_name(AclOperation(binding.operation.value)),
        "permission_type": kafka_name(PermissionType(binding.permission_type.value)),
    }


def _emit_rows(rows: list[dict[str, str]], empty: str) -> None:
    columns = ["RESOURCE TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"]
    emit(rows, lambda: render_table(columns, [list(r.values()) for r in rows]) if rows else empty)


@click.group()
def acl() -> None:
    """Create, list and delete ACLs (the broker needs authorizer.class.name set)."""


@acl.command()
@_resource_options
@_entry_options
@client_options
def create(**flags: Any) -> None:
    """Add ACLs: every principal x host x operation on every named resource."""
    pattern = _pattern(flags, filter_ok=False)
    bindings = [_confluent_binding(*b) for b in _bindings(flags, pattern)]
    admin = admin_client(settings())
    for binding, future in admin.create_acls(bindings).items():
        result_of(future, f"creating {binding}")
    click.echo(f"Created {len(bindings)} ACL{'s' if len(bindings) != 1 else ''}.")


@acl.command(name="list")
@_resource_options
@click.option("--principal", help="Only ACLs of this principal")
@client_options
@format_option
def list_acls(principal: str | None, **flags: Any) -> None:
    """Show ACLs: of the named resources (any pattern type by default for --list), or all of them."""
    pattern = _pattern(flags, filter_ok=True)
    resources: list[tuple[ResourceType, str | None]] = [*_resources(flags)] or [(ResourceType.ANY, None)]
    admin = admin_client(settings())
    rows: list[dict[str, str]] = []
    for rtype, name in resources:
        found = result_of(
            admin.describe_acls(_filter(rtype, name, pattern, principal=principal)), "listing ACLs"
        )
        rows.extend(_row(b) for b in found)
    _emit_rows(rows, "No ACLs.")


@acl.command()
@_resource_options
@_entry_options
@client_options
@format_option
def delete(**flags: Any) -> None:
    """Remove ACLs that match the flags (no principal: every ACL on the named resources)."""
    pattern = _pattern(flags, filter_ok=True)
    resources = _resources(flags)
    if not resources:
        raise click.UsageError("name a resource: --topic, --group, --cluster or --transactional-id")
    filters = []
    if flags["allow_principals"] or flags["deny_principals"]:
        operations = _operations(flags["operations"]) if flags["operations"] else [AclOperation.ANY]
        for rtype, name, rpattern, entry in (
            (r, n, pattern, e) for r, n in resources for e in _entries(flags, operations)
        ):
            filters.append(
                _filter(rtype, name, rpattern, entry.principal, entry.host, entry.operation, entry.permission)
            )
    else:
        filters = [_filter(rtype, name, pattern) for rtype, name in resources]
    admin = admin_client(settings())
    rows: list[dict[str, str]] = []
    for future in admin.delete_acls(filters).values():
        rows.extend(_row(b) for b in result_of(future, "deleting ACLs"))
    _emit_rows(rows, "No ACLs matched.")


def _filter(
    rtype: ResourceType,
    name: str | None,
    pattern: PatternType,
    principal: str | None = None,
    host: str | None = None,
    operation: AclOperation = AclOperation.ANY,
    permission: PermissionType = PermissionType.ANY,
) -> Any:
    from confluent_kafka.admin import AclBindingFilter

    binding_filter: Any = AclBindingFilter  # its stubs want str where Kafka takes null (any)
    if rtype is ResourceType.ANY:
        pattern = PatternType.ANY if pattern is PatternType.LITERAL else pattern
    ck_type, ck_pattern, ck_op, ck_perm = _confluent_enums(rtype, pattern, operation, permission)
    return binding_filter(ck_type, name, ck_pattern, principal, host, ck_op, ck_perm)
