"""Config resources as DescribeConfigs/AlterConfigs see them: topics (2) and the broker (4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from brook.broker.config import BROKER_DEFAULTS, TOPIC_CONFIGS, broker_synonyms, unknown_topic_config
from brook.broker.config_def import CONFIG_TYPE_IDS
from brook.broker.dynamic_config import alter_broker_configs, describe_broker
from brook.broker.handlers.base import error_entry
from brook.broker.topics import ConfigSource
from brook.common.errors import ErrorCode, InvalidConfig, InvalidRequest

if TYPE_CHECKING:
    from brook.broker.app import Broker

__all__ = ["BROKER", "TOPIC", "alter_configs", "describe_resource"]

TOPIC = 2
BROKER = 4
BROKER_LOGGER = 8

_SET, _DELETE, _APPEND, _SUBTRACT = 0, 1, 2, 3


def describe_resource(
    broker: Broker,
    resource_type: int,
    name: str,
    keys: list[str] | None,
    *,
    include_synonyms: bool = False,
) -> list[dict[str, Any]]:
    """Each config's entry; with include_synonyms, the values it was chosen from, most specific first."""
    if resource_type == TOPIC:
        state = broker.topics.require_topic(name)
        entries = [
            {
                "name": key,
                "value": value,
                "read_only": False,
                "config_source": source,
                "is_default": source == ConfigSource.DEFAULT_CONFIG,
                "is_sensitive": False,
                "synonyms": _topic_synonyms(broker, key, state.configs) if include_synonyms else [],
                "config_type": CONFIG_TYPE_IDS.get(TOPIC_CONFIGS[key].kind, 0),
            }
            for key, (value, source) in broker.topics.describe_topic_configs(state).items()
        ]
    elif resource_type == BROKER:
        _require_this_broker(broker, name)
        entries = describe_broker(broker, name)
        if include_synonyms:
            for entry in entries:
                synonyms = _broker_synonyms(broker, str(entry["name"]))
                if entry["is_sensitive"]:
                    synonyms = [{**synonym, "value": None} for synonym in synonyms]
                entry["synonyms"] = synonyms
    else:
        raise InvalidRequest(f"unsupported config resource type {resource_type}")
    if keys is not None:
        entries = [e for e in entries if e["name"] in keys]
    return entries


def _broker_synonyms(broker: Broker, key: str) -> list[dict[str, Any]]:
    """A broker property's values, most specific first: this broker's dynamic config, the cluster-wide dynamic
    default, server.properties (or --override), then Kafka's default."""
    synonyms = []
    dynamic = broker.config.dynamic
    if key in dynamic.per_broker:
        synonyms.append(
            {"name": key, "value": dynamic.per_broker[key], "source": ConfigSource.DYNAMIC_BROKER_CONFIG}
        )
    if key in dynamic.cluster_default:
        synonyms.append(
            {
                "name": key,
                "value": dynamic.cluster_default[key],
                "source": ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
            }
        )
    value = broker.config.static(key)
    if value and value != BROKER_DEFAULTS.get(key):
        synonyms.append({"name": key, "value": value, "source": ConfigSource.STATIC_BROKER_CONFIG})
    if BROKER_DEFAULTS.get(key):
        synonyms.append({"name": key, "value": BROKER_DEFAULTS[key], "source": ConfigSource.DEFAULT_CONFIG})
    return synonyms


def _topic_synonyms(broker: Broker, key: str, overrides: Mapping[str, str]) -> list[dict[str, Any]]:
    """The topic's own override, then each broker property that supplies its default (as Kafka lists them)."""
    synonyms = []
    if key in overrides:
        synonyms.append({"name": key, "value": overrides[key], "source": ConfigSource.DYNAMIC_TOPIC_CONFIG})
    for broker_key in broker_synonyms(key):
        synonyms += _broker_synonyms(broker, broker_key)
    return synonyms


async def alter_configs(
    broker: Broker,
    resource_type: int,
    name: str,
    changes: list[tuple[str, int, str | None]],
    *,
    incremental: bool,
    validate_only: bool,
) -> None:
    """Apply (name, operation, value) changes; legacy AlterConfigs replaces the whole override set."""
    if resource_type == BROKER:
        _require_this_broker(broker, name)
        await alter_broker_configs(
            broker, name, changes, incremental=incremental, validate_only=validate_only
        )
        return
    if resource_type != TOPIC:
        raise InvalidRequest(f"unsupported config resource type {resource_type}")
    state = broker.topics.require_topic(name)
    overrides: dict[str, str | None] = dict(state.configs) if incremental else {}
    for key, operation, value in changes:
        if key not in TOPIC_CONFIGS:
            raise InvalidConfig(unknown_topic_config(key))
        if operation == _SET:
            overrides[key] = value
        elif operation == _DELETE:
            overrides.pop(key, None)
        elif operation in (_APPEND, _SUBTRACT):
            if TOPIC_CONFIGS[key].kind != "LIST":
                raise InvalidConfig(f"Config value append is not allowed for config key: {key}")
            current = (overrides.get(key) or broker.config.topic_default(key)).split(",")
            items = [v for v in (value or "").split(",") if v]
            if operation == _APPEND:
                merged = current + [v for v in items if v not in current]
            else:
                merged = [v for v in current if v not in items]
            overrides[key] = ",".join(merged)
        else:
            raise InvalidRequest(f"unknown config operation {operation}")
    await broker.topics.set_topic_configs(name, overrides, validate_only=validate_only)


def _require_this_broker(broker: Broker, name: str) -> None:
    if name not in ("", str(broker.node_id)):
        raise InvalidRequest(f"broker {name} is not this broker ({broker.node_id})")


async def alter_resources(
    broker: Broker,
    resources: Any,
    changes_of: Any,
    *,
    incremental: bool,
    validate_only: bool,
) -> list[dict[str, Any]]:
    """The per-resource results of AlterConfigs or IncrementalAlterConfigs."""
    results = []
    for resource in resources:
        entry: dict[str, Any] = {
            "resource_type": resource.resource_type,
            "resource_name": resource.resource_name,
        }
        try:
            await alter_configs(
                broker,
                resource.resource_type,
                resource.resource_name,
                changes_of(resource),
                incremental=incremental,
                validate_only=validate_only,
            )
            entry.update(error_code=ErrorCode.none, error_message=None)
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            entry.update(error_entry(exc))
        results.append(entry)
    return results
