"""Dynamic broker configs: DescribeConfigs / (Incremental)AlterConfigs on the broker resource (type 4).

As in Kafka, a broker's effective value of a key is its own dynamic config (`/config/brokers/<id>`), else the
cluster default (`/config/brokers/<default>`), else server.properties / --override, else Kafka's default. The
metadata store keeps them (ZooKeeper, or the embedded store's file on one node); every broker hears of a change
through the store's listener and applies it at once (`refresh`): topic defaults (a topic without an override
follows log.retention.ms & co. live, as in Kafka) and the connection limits.

Only keys Kafka can update dynamically and brook applies live are accepted (DYNAMIC_KEYS); any other key is
refused as Kafka refuses it: INVALID_REQUEST, "Invalid config value for resource ConfigResource(type=BROKER,
name='0'): Cannot update these configs dynamically: Set(num.partitions)". Values are checked with the key's
type and range (config_def.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from brook.broker.config import BROKER_DEFAULTS, BrokerConfig
from brook.broker.config_def import BROKER_KEYS, CONFIG_TYPE_IDS, parse_value
from brook.broker.topics import BROKER_SYNONYMS, ConfigSource
from brook.common.errors import BrookError, InvalidConfig, InvalidRequest, RequestTimedOut

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = [
    "DYNAMIC_KEYS",
    "alter_broker_configs",
    "broker_config_source",
    "check_dynamic",
    "describe_broker",
    "refresh",
]

_WRITE_TIMEOUT_S = 30.0
_SET, _DELETE, _APPEND, _SUBTRACT = 0, 1, 2, 3

# Kafka's DynamicLogConfig keys (the broker-level synonyms of topic configs) and connection limits
DYNAMIC_KEYS: frozenset[str] = frozenset(key for key in BROKER_SYNONYMS.values() if key) | {
    "max.connections",
    "max.connections.per.ip",
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
}


def _resource(name: str) -> str:
    return f"ConfigResource(type=BROKER, name='{name}')"


def check_dynamic(name: str, configs: Mapping[str, str]) -> None:
    """Kafka's DynamicBrokerConfig.validateConfigs for the broker resource `name` ('' = cluster default)."""
    refused = sorted(k for k in configs if k not in DYNAMIC_KEYS)
    try:
        if refused:
            raise InvalidConfig(f"Cannot update these configs dynamically: Set({', '.join(refused)})")
        for key, value in configs.items():
            parse_value(key, value, BROKER_KEYS[key])
    except InvalidConfig as exc:
        raise InvalidRequest(f"Invalid config value for resource {_resource(name)}: {exc}") from None


def _changed(current: dict[str, str], changes: list[tuple[str, int, str | None]]) -> dict[str, str]:
    configs = dict(current)
    for key, operation, value in changes:
        if operation == _SET:
            configs[key] = value or ""
        elif operation == _DELETE:
            configs.pop(key, None)
        elif operation in (_APPEND, _SUBTRACT):
            key_def = BROKER_KEYS.get(key)
            if key_def is None or key_def.type != "LIST":
                raise InvalidConfig(f"Config value append is not allowed for config key: {key}")
            items = [v.strip() for v in (value or "").split(",") if v.strip()]
            present = [v.strip() for v in configs.get(key, "").split(",") if v.strip()]
            if operation == _APPEND:
                present += [v for v in items if v not in present]
            else:
                present = [v for v in present if v not in items]
            configs[key] = ",".join(present)
        else:
            raise InvalidRequest(f"unknown config operation {operation}")
    return configs


async def alter_broker_configs(
    broker: Broker,
    name: str,
    changes: list[tuple[str, int, str | None]],
    *,
    incremental: bool,
    validate_only: bool,
) -> None:
    """Set this broker's (`name` = its id) or the cluster default's (`name` = '') dynamic configs; legacy
    AlterConfigs replaces the whole set. Written to the metadata store, then applied here at once."""
    node_id = None if name == "" else broker.node_id
    loop = asyncio.get_running_loop()
    current = dict(broker.metadata.broker_configs(node_id)) if incremental else {}
    configs = _changed(current, changes)
    check_dynamic(name, configs)
    if validate_only:
        return
    write = functools.partial(broker.metadata.set_broker_configs, configs, node_id)
    try:
        await asyncio.wait_for(loop.run_in_executor(broker.metadata_executor, write), _WRITE_TIMEOUT_S)
    except TimeoutError:
        raise RequestTimedOut(f"set_broker_configs did not complete within {_WRITE_TIMEOUT_S:.0f}s") from None
    logger.info("altered dynamic broker configs resource=%s configs=%s", name or "<default>", configs)
    refresh(broker)


def _valid(source: str, configs: Mapping[str, str]) -> dict[str, str]:
    """What another tool wrote may be invalid: such an entry is logged and ignored, never applied."""
    kept = {}
    for key, value in configs.items():
        try:
            if key not in DYNAMIC_KEYS:
                raise InvalidConfig(f"{key} cannot be updated dynamically")
            parse_value(key, value, BROKER_KEYS[key])
            kept[key] = value
        except BrookError as exc:
            logger.warning("ignoring dynamic broker config of %s: %s", source, exc)
    return kept


def refresh(broker: Broker, *, sync: bool = True) -> bool:
    """Take the store's dynamic configs into the broker's config; on a change, apply them (topic defaults
    through a partition sync, connection limits). Returns whether anything changed."""
    stored = (
        dict(broker.metadata.broker_configs(broker.node_id)),
        dict(broker.metadata.broker_configs(None)),
    )
    dynamic = broker.config.dynamic
    if stored == dynamic.stored:
        return False
    dynamic.stored = stored
    dynamic.per_broker = _valid(f"broker {broker.node_id}", stored[0])
    dynamic.cluster_default = _valid("the cluster default", stored[1])
    broker.server.max_connections = broker.config.int("max.connections")
    broker.server.max_connections_per_ip = broker.config.int("max.connections.per.ip")
    if sync:
        broker.topics.sync()
    return True


def broker_config_source(config: BrokerConfig, key: str) -> int:
    """DescribeConfigs' config_source of a broker key (this broker's view)."""
    if key in config.dynamic.per_broker:
        return ConfigSource.DYNAMIC_BROKER_CONFIG
    if key in config.dynamic.cluster_default:
        return ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
    return (
        ConfigSource.DEFAULT_CONFIG
        if config.static(key) == BROKER_DEFAULTS.get(key)
        else ConfigSource.STATIC_BROKER_CONFIG
    )


def describe_broker(broker: Broker, name: str) -> list[dict[str, Any]]:
    """DescribeConfigs of the broker resource: every key for this broker's id; the cluster default's set
    keys for ''."""
    if name == "":
        configs = dict(broker.metadata.broker_configs(None))
        keys = sorted(configs)
    else:
        configs = {}
        keys = sorted(BROKER_KEYS)
    entries: list[dict[str, Any]] = []
    for key in keys:
        source = (
            ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
            if name == ""
            else broker_config_source(broker.config, key)
        )
        sensitive = key in BROKER_KEYS and BROKER_KEYS[key].type == "PASSWORD"  # passwords are never shown
        entries.append(
            {
                "name": key,
                "value": None if sensitive else configs[key] if name == "" else broker.config.get(key),
                "read_only": key not in DYNAMIC_KEYS,
                "config_source": source,
                "is_default": source == ConfigSource.DEFAULT_CONFIG,
                "is_sensitive": sensitive,
                "synonyms": [],
                "config_type": CONFIG_TYPE_IDS.get(BROKER_KEYS[key].type, 0) if key in BROKER_KEYS else 2,
            }
        )
    return entries
