"""`brook cluster config describe|alter`: dynamic broker configs (kafka-configs.sh --entity-type brokers).

`--broker ID` is Kafka's `--entity-name ID` (one broker's own configs); without it the command works on the
cluster-wide default (Kafka's `--entity-default`). Only Kafka's dynamically updatable keys can be altered;
the broker refuses the others with Kafka's message.
"""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import (
    CliError,
    admin_client,
    client_options,
    emit,
    format_option,
    parse_key_values,
    render_table,
    settings,
)
from brook.cli.raw_request import call

__all__ = ["config"]

_BROKER = 4  # the broker config resource type

# DescribeConfigs' config_source, as kafka-configs.sh names it
_SOURCES = {
    1: "DYNAMIC_TOPIC_CONFIG",
    2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
    4: "STATIC_BROKER_CONFIG",
    5: "DEFAULT_CONFIG",
}


def _broker_option(func: Any) -> Any:
    return click.option(
        "--broker",
        "--entity-name",
        "broker_id",
        type=int,
        default=None,
        metavar="ID",
        help="One broker's own configs (default: the cluster-wide default, Kafka's --entity-default)",
    )(func)


def _what(broker_id: int | None) -> str:
    return "the cluster-wide default" if broker_id is None else f"broker {broker_id}"


@click.group()
def config() -> None:
    """Dynamic broker configs: describe and alter (kafka-configs.sh --entity-type brokers)."""


def _request(broker_id: int | None, api_key: int, version: int, body: dict[str, Any]) -> Any:
    """One request to the broker `broker_id` (its own configs live there), or to any broker for the
    cluster-wide default. Raw Kafka protocol: confluent-kafka cannot name the default resource ('')."""
    admin = admin_client(settings())
    metadata = admin.list_topics(timeout=15)
    brokers = sorted(metadata.brokers.values(), key=lambda b: b.id)
    if broker_id is not None:
        brokers = [b for b in brokers if b.id == broker_id]
        if not brokers:
            raise CliError(f"no broker with id {broker_id} in the cluster")
    if not brokers:
        raise CliError("the cluster has no broker")
    target = brokers[0]
    return call((target.host, target.port), api_key, version, body)


def _check(result: Any, broker_id: int | None) -> None:
    if int(result.error_code) != 0:
        message = result.error_message or f"error code {int(result.error_code)}"
        raise CliError(f"{_what(broker_id)}: {message}")


@config.command()
@_broker_option
@click.option("--all", "show_all", is_flag=True, help="Every config of the broker, not only the dynamic ones")
@client_options
@format_option
def describe(broker_id: int | None, show_all: bool) -> None:
    """Dynamic configs of a broker or of the cluster-wide default; --all: every config with its source."""
    if show_all and broker_id is None:
        raise click.UsageError("--all needs --broker ID (every config of one broker)")
    name = "" if broker_id is None else str(broker_id)
    body = {"resources": [{"resource_type": _BROKER, "resource_name": name, "configuration_keys": None}]}
    [result] = _request(broker_id, 32, 1, body).results
    _check(result, broker_id)
    rows = [
        {
            "name": c.name,
            "value": c.value,
            "source": _SOURCES.get(int(c.config_source), str(int(c.config_source))),
            "read_only": bool(c.read_only),
        }
        for c in sorted(result.configs, key=lambda c: c.name)
    ]
    if not show_all:
        rows = [r for r in rows if r["source"] in ("DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG")]

    def text() -> str:
        if not rows:
            return f"No dynamic configs for {_what(broker_id)}."
        return render_table(
            ["KEY", "VALUE", "SOURCE", "READ-ONLY"],
            [(r["name"], r["value"], r["source"], "yes" if r["read_only"] else "no") for r in rows],
        )

    emit(rows, text)


@config.command()
@_broker_option
@click.option("--set", "--add-config", "-s", "sets", multiple=True, metavar="KEY=VALUE", help="Set a config")
@click.option("--delete", "--delete-config", "-d", "deletes", multiple=True, metavar="KEY", help="Remove one")
@client_options
@format_option
def alter(broker_id: int | None, sets: tuple[str, ...], deletes: tuple[str, ...]) -> None:
    """Set or remove dynamic broker configs (kept in the cluster metadata; applied at once, kept across restarts)."""
    pairs = parse_key_values(sets, "--set")
    if not pairs and not deletes:
        raise click.UsageError("nothing to change: give --set KEY=VALUE or --delete KEY")
    changes = [{"name": k, "config_operation": 0, "value": v} for k, v in pairs]
    changes += [{"name": k, "config_operation": 1, "value": None} for k in deletes]
    name = "" if broker_id is None else str(broker_id)
    body = {
        "resources": [{"resource_type": _BROKER, "resource_name": name, "configs": changes}],
        "validate_only": False,
    }
    [result] = _request(broker_id, 44, 0, body).responses
    _check(result, broker_id)
    done = {"broker": broker_id, "set": dict(pairs), "deleted": list(deletes)}
    if broker_id is None:
        emit(done, "Completed updating default config for brokers in the cluster.")
    else:
        emit(done, f"Completed updating config for broker {broker_id}.")
