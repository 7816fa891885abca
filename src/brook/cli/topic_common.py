"""Helpers shared by the `brook topic` subcommand modules."""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import CliError, describe_kafka_error, is_unsupported, topic_names

__all__ = ["error_text", "non_default_configs", "require_topics", "topics_arg"]


def topics_arg(func: Any) -> Any:
    func = click.option(
        "--topic", "-t", "topic_opts", multiple=True, metavar="TOPIC", help="Topic (Kafka's flag; repeatable)"
    )(func)
    return click.argument("topics", nargs=-1)(func)


def require_topics(topics: tuple[str, ...], topic_opts: tuple[str, ...]) -> list[str]:
    names = topic_names(topics, topic_opts)
    if not names:
        raise click.UsageError("name at least one topic (as an argument or with --topic)")
    return names


def error_text(exc: BaseException) -> str:
    return describe_kafka_error(exc)


def non_default_configs(admin: Any, name: str) -> dict[str, str | None] | None:
    """Configs whose source is not a default; None when the broker cannot describe configs."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource, ConfigSource

    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        entries = admin.describe_configs([resource], request_timeout=10.0)[resource].result(timeout=15)
    except KafkaException as exc:
        if is_unsupported(exc):
            return None
        raise CliError(f"{name}: {error_text(exc)}") from exc
    defaults = {
        ConfigSource.DEFAULT_CONFIG.value,
        ConfigSource.STATIC_BROKER_CONFIG.value,
        ConfigSource.DYNAMIC_BROKER_CONFIG.value,  # broker-level values are not the topic's overrides
        ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
    }
    return {
        k: e.value
        for k, e in sorted(entries.items())
        if not e.is_default and getattr(e.source, "value", e.source) not in defaults
    }
