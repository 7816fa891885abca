"""`brook quota`: client quotas, like `kafka-configs.sh --entity-type clients|users` (KIP-546's APIs).

    brook quota alter --entity-type clients --entity-name app --add-config producer_byte_rate=1048576
    brook quota alter --user alice --client-default --add-config consumer_byte_rate=2097152
    brook quota alter --entity-type clients --entity-name app --delete-config producer_byte_rate
    brook quota describe [--entity-type clients [--entity-name app | --entity-default]]

confluent-kafka's AdminClient has no client quota calls, so AlterClientQuotas (49) and
DescribeClientQuotas (48) go over a plain socket to the bootstrap broker, encoded by brook's own codec.
"""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import CliError, client_options, emit, format_option, render_table
from brook.cli.raw_request import bootstrap_address, call

__all__ = ["quota"]

_ALTER, _DESCRIBE, _VERSION = 49, 48, 1
_TYPES = {"clients": "client-id", "users": "user", "client-id": "client-id", "user": "user"}
_TIMEOUT_S = 15.0


def _entity_options(func: Any) -> Any:
    options = [
        click.option(
            "--entity-type", type=click.Choice(sorted(_TYPES)), help="Kafka's flag: clients or users"
        ),
        click.option("--entity-name", help="The entity's name (with --entity-type)"),
        click.option("--entity-default", is_flag=True, help="The default entity (with --entity-type)"),
        click.option("--user", help="A user principal name"),
        click.option("--user-default", is_flag=True, help="The default user"),
        click.option("--client", "--client-id", "client", help="A client id"),
        click.option("--client-default", is_flag=True, help="The default client id"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _entity(
    entity_type: str | None,
    entity_name: str | None,
    entity_default: bool,
    user: str | None,
    user_default: bool,
    client: str | None,
    client_default: bool,
) -> list[tuple[str, str | None, bool]]:
    """[(entity_type, name, is_default)] from the flags; empty means "every entity" (describe)."""
    pairs: dict[str, tuple[str | None, bool]] = {}
    if entity_type is not None:
        if (entity_name is None) == (not entity_default):
            raise click.UsageError("--entity-type needs --entity-name or --entity-default")
        pairs[_TYPES[entity_type]] = (entity_name, entity_default)
    elif entity_name is not None or entity_default:
        raise click.UsageError("--entity-name and --entity-default need --entity-type")
    for kind, name, default in (("user", user, user_default), ("client-id", client, client_default)):
        if name is not None and default:
            raise click.UsageError(f"give a {kind} name or its default, not both")
        if name is not None or default:
            if kind in pairs:
                raise click.UsageError(f"the {kind} is given twice")
            pairs[kind] = (name, default)
    order = {"user": 0, "client-id": 1}
    return [
        (kind, name, default) for kind, (name, default) in sorted(pairs.items(), key=lambda p: order[p[0]])
    ]


def _call(api_key: int, body: dict[str, Any]) -> Any:
    return call(bootstrap_address(), api_key, _VERSION, body)


def _show(entity: Any) -> str:
    return ", ".join(
        f"{e.entity_type}={'<default>' if e.entity_name is None else e.entity_name}" for e in entity
    )


@click.group()
def quota() -> None:
    """Set and show client quotas (producer_byte_rate, consumer_byte_rate, request_percentage)."""


@quota.command()
@_entity_options
@click.option("--add-config", "add_config", multiple=True, metavar="K=V[,K=V]", help="Quotas to set")
@click.option("--delete-config", "delete_config", multiple=True, metavar="K[,K]", help="Quotas to remove")
@client_options
def alter(add_config: tuple[str, ...], delete_config: tuple[str, ...], **flags: Any) -> None:
    """Set or remove quotas of one entity."""
    entity = _entity(**flags)
    if not entity:
        raise click.UsageError(
            "name an entity (--entity-type/--entity-name, --user, --client, or their defaults)"
        )
    ops: list[dict[str, Any]] = []
    for item in ",".join(add_config).split(","):
        if item.strip():
            key, sep, value = item.partition("=")
            try:
                ops.append({"key": key.strip(), "value": float(value), "remove": False})
            except ValueError:
                raise click.BadParameter(
                    f"expected key=number, got {item!r}", param_hint="--add-config"
                ) from None
            if not sep:
                raise click.BadParameter(f"expected key=number, got {item!r}", param_hint="--add-config")
    for key in ",".join(delete_config).split(","):
        if key.strip():
            ops.append({"key": key.strip(), "value": 0.0, "remove": True})
    if not ops:
        raise click.UsageError("give --add-config and/or --delete-config")
    body = {
        "entries": [{"entity": [{"entity_type": t, "entity_name": n} for t, n, _ in entity], "ops": ops}],
        "validate_only": False,
    }
    result = _call(_ALTER, body).entries[0]
    if result.error_code:
        raise CliError(f"{result.error_message or 'quota change refused'} (error {int(result.error_code)})")
    click.echo(f"Completed updating quotas for {_show(result.entity)}.")


@quota.command()
@_entity_options
@client_options
@format_option
def describe(**flags: Any) -> None:
    """Show quotas: of one entity, of an entity type (its name or default), or all."""
    components = [
        {"entity_type": t, "match_type": 1 if default else 0, "match": n}
        for t, n, default in _entity(**flags)
    ]
    response = _call(_DESCRIBE, {"components": components, "strict": bool(components)})
    if response.error_code:
        raise CliError(f"{response.error_message or 'describe failed'} (error {int(response.error_code)})")
    rows = [(_show(entry.entity), v.key, v.value) for entry in response.entries or () for v in entry.values]
    doc = [
        {
            "entity": {e.entity_type: e.entity_name for e in entry.entity},
            "quotas": {v.key: v.value for v in entry.values},
        }
        for entry in response.entries or ()
    ]
    emit(doc, lambda: render_table(["ENTITY", "QUOTA", "VALUE"], rows) if rows else "No quotas.")
