"""`brook topic alter-config`: set or reset topic configs (kafka-configs.sh --alter --entity-type topics)."""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import (
    admin_client,
    client_options,
    emit_status_table,
    format_option,
    is_unsupported,
    parse_key_values,
    settings,
)
from brook.cli.config_syntax import parse_config_deletes, parse_config_pairs
from brook.cli.topic_common import error_text, non_default_configs, require_topics, topics_arg

__all__ = ["alter_config"]


@click.command(name="alter-config")
@topics_arg
@click.option(
    "--set",
    "--config",
    "--add-config",
    "-s",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set configs: k=v, k=v,k2=v2, k=[a,b] for a list (repeatable)",
)
@click.option(
    "--add-config-file", type=click.File("r"), default=None, help="Configs to set, from a properties file"
)
@click.option(
    "--delete",
    "--delete-config",
    "-d",
    "deletes",
    multiple=True,
    metavar="KEY",
    help="Reset configs to their defaults: k or k1,k2 (repeatable)",
)
@client_options
@format_option
def alter_config(
    topics: tuple[str, ...],
    topic_opts: tuple[str, ...],
    sets: tuple[str, ...],
    add_config_file: Any,
    deletes: tuple[str, ...],
) -> None:
    """Set or reset topic configs (incrementally: other configs keep their values)."""
    names = require_topics(topics, topic_opts)
    pairs = parse_config_pairs(sets, "--add-config")
    if add_config_file is not None:
        lines = [line.strip() for line in add_config_file]
        props = [line for line in lines if line and not line.startswith(("#", "!"))]
        pairs += parse_key_values(props, "--add-config-file")
    deletes = tuple(parse_config_deletes(deletes))
    if not pairs and not deletes:
        raise click.UsageError("nothing to change: give --set KEY=VALUE or --delete KEY")
    admin = admin_client(settings())
    results = []
    for name in names:
        error = _alter_one(admin, name, pairs, list(deletes))
        results.append({"topic": name, "status": "OK" if error is None else "FAILED", "error": error})
    emit_status_table(results, "topic")


def _alter_one(admin: Any, name: str, pairs: list[tuple[str, str]], deletes: list[str]) -> str | None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in pairs]
    entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in deletes]
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    try:
        admin.incremental_alter_configs([resource], request_timeout=15.0)[resource].result(timeout=20)
        return None
    except KafkaException as exc:
        if not is_unsupported(exc):
            return error_text(exc)
    return _alter_legacy(admin, name, pairs, deletes)


def _alter_legacy(admin: Any, name: str, pairs: list[tuple[str, str]], deletes: list[str]) -> str | None:
    """AlterConfigs replaces the whole set: read the non-default configs, change them, write them back."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    current = non_default_configs(admin, name) or {}
    merged = {k: v for k, v in current.items() if k not in deletes and v is not None}
    merged.update(pairs)
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, set_config=merged)
    try:
        admin.alter_configs([resource], request_timeout=15.0)[resource].result(timeout=20)
        return None
    except KafkaException as exc:
        return error_text(exc)
