"""Broker and topic configuration under Kafka's property names and defaults.

The only module that knows property names: it reads `server.properties` files and overrides, and
turns a topic's overrides plus the broker's defaults into a `LogConfig` for the storage layer.
"""

from __future__ import annotations

import builtins
import difflib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brook.broker.config_def import (
    BROKER_KEYS,
    ConfigKey,
    Validator,
    at_least,
    between,
    one_of,
    parse_value,
    throttled_replica_list,
    unknown_key_warning,
    valid_list,
)
from brook.common.errors import InvalidConfig
from brook.storage.api import LogConfig

logger = logging.getLogger(__name__)

LONG_MAX = 2**63 - 1

__all__ = [
    "BROKER_DEFAULTS",
    "TOPIC_CONFIGS",
    "BrokerConfig",
    "DynamicConfigs",
    "check_broker_props",
    "TopicConfigDef",
    "broker_synonyms",
    "load_properties",
    "log_config_for",
    "unknown_topic_config",
    "validate_topic_configs",
]


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"expected true or false, got {value!r}")
    return lowered == "true"


@dataclass(frozen=True)
class TopicConfigDef:
    name: str
    broker_key: str | None  # the broker property that supplies the default, as in Kafka
    default: str
    validator: Validator | None
    kind: str = "LONG"  # Kafka's ConfigType, for DescribeConfigs v3+

    def parse(self, value: str) -> Any:
        """The value as this config's type; InvalidConfig (Kafka's message) when it is not allowed."""
        return parse_value(self.name, value, ConfigKey(self.kind, self.validator))


TOPIC_CONFIGS: dict[str, TopicConfigDef] = {
    d.name: d
    for d in [
        TopicConfigDef(
            "cleanup.policy", "log.cleanup.policy", "delete", valid_list("compact", "delete"), "LIST"
        ),
        TopicConfigDef(
            "compression.type",
            "compression.type",
            "producer",
            one_of("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"),
            "STRING",
        ),
        TopicConfigDef("delete.retention.ms", "log.cleaner.delete.retention.ms", "86400000", at_least(0)),
        TopicConfigDef("file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", at_least(0)),
        TopicConfigDef("flush.messages", "log.flush.interval.messages", str(LONG_MAX), at_least(1)),
        TopicConfigDef("flush.ms", "log.flush.interval.ms", str(LONG_MAX), at_least(0)),
        TopicConfigDef("index.interval.bytes", "log.index.interval.bytes", "4096", at_least(0), "INT"),
        TopicConfigDef(
            "max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", str(LONG_MAX), at_least(1)
        ),
        TopicConfigDef("max.message.bytes", "message.max.bytes", "1048588", at_least(0), "INT"),
        TopicConfigDef(
            "message.timestamp.type",
            "log.message.timestamp.type",
            "CreateTime",
            one_of("CreateTime", "LogAppendTime"),
            "STRING",
        ),
        TopicConfigDef(
            "message.timestamp.after.max.ms",
            "log.message.timestamp.after.max.ms",
            str(LONG_MAX),
            at_least(0),
        ),
        TopicConfigDef(
            "message.timestamp.before.max.ms",
            "log.message.timestamp.before.max.ms",
            str(LONG_MAX),
            at_least(0),
        ),
        TopicConfigDef(
            "message.timestamp.difference.max.ms",
            "log.message.timestamp.difference.max.ms",
            str(LONG_MAX),
            at_least(0),
        ),
        TopicConfigDef(
            "min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "0.5", between(0, 1), "DOUBLE"
        ),
        TopicConfigDef("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", at_least(0)),
        TopicConfigDef("min.insync.replicas", "min.insync.replicas", "1", at_least(1), "INT"),
        TopicConfigDef("leader.replication.throttled.replicas", None, "", throttled_replica_list, "LIST"),
        TopicConfigDef("follower.replication.throttled.replicas", None, "", throttled_replica_list, "LIST"),
        TopicConfigDef("preallocate", "log.preallocate", "false", None, "BOOLEAN"),
        TopicConfigDef("retention.bytes", "log.retention.bytes", "-1", None),
        TopicConfigDef("retention.ms", None, "604800000", at_least(-1)),
        TopicConfigDef("segment.bytes", "log.segment.bytes", "1073741824", at_least(14), "INT"),
        TopicConfigDef("segment.index.bytes", "log.index.size.max.bytes", "10485760", at_least(4), "INT"),
        TopicConfigDef("segment.ms", None, "604800000", at_least(1)),
        TopicConfigDef(
            "unclean.leader.election.enable", "unclean.leader.election.enable", "false", None, "BOOLEAN"
        ),
    ]
}

# Topic configs whose default comes from several broker properties, most specific first (Kafka's synonyms).
_SEVERAL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "retention.ms": ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    "segment.ms": ("log.roll.ms", "log.roll.hours"),
}


def broker_synonyms(topic_config: str) -> tuple[str, ...]:
    """The broker properties that supply a topic config's default, most specific first, as Kafka lists them."""
    if topic_config in _SEVERAL_SYNONYMS:
        return _SEVERAL_SYNONYMS[topic_config]
    broker_key = TOPIC_CONFIGS[topic_config].broker_key
    return (broker_key,) if broker_key else ()


# Broker properties brook reads, with Kafka's defaults. Values are strings, as in server.properties.
BROKER_DEFAULTS: dict[str, str] = {
    "node.id": "0",
    "broker.id": "",
    "listeners": "PLAINTEXT://127.0.0.1:9092",
    "advertised.listeners": "",
    # security (broker/listeners.py, security.py, tls.py); every ssl.*/sasl.* key may also be given per
    # listener as listener.name.<listener>.<key>
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    "inter.broker.listener.name": "",
    "security.inter.broker.protocol": "PLAINTEXT",
    "ssl.keystore.type": "JKS",
    "ssl.keystore.location": "",
    "ssl.keystore.password": "",
    "ssl.key.password": "",
    "ssl.keystore.certificate.chain": "",
    "ssl.keystore.key": "",
    "ssl.truststore.type": "JKS",
    "ssl.truststore.location": "",
    "ssl.truststore.password": "",
    "ssl.truststore.certificates": "",
    "ssl.client.auth": "none",
    "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
    "ssl.cipher.suites": "",
    "ssl.endpoint.identification.algorithm": "https",
    "ssl.principal.mapping.rules": "DEFAULT",
    "sasl.enabled.mechanisms": "GSSAPI",
    "sasl.mechanism.inter.broker.protocol": "GSSAPI",
    "sasl.jaas.config": "",
    "connections.max.reauth.ms": "0",
    "sasl.server.max.receive.size": "524288",  # the largest frame before authentication
    "log.dirs": "",
    "log.dir": "/tmp/kafka-logs",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "auto.create.topics.enable": "true",
    "delete.topic.enable": "true",
    "message.max.bytes": "1048588",
    "socket.request.max.bytes": "104857600",
    "queued.max.requests": "500",
    "queued.max.request.bytes": "-1",
    "log.segment.bytes": "1073741824",
    "log.roll.hours": "168",
    "log.roll.ms": "",
    "log.retention.hours": "168",
    "log.retention.minutes": "",
    "log.retention.ms": "",
    "log.retention.bytes": "-1",
    "log.retention.check.interval.ms": "300000",
    "log.cleanup.policy": "delete",
    "log.cleaner.enable": "true",
    "log.cleaner.backoff.ms": "15000",
    "log.cleaner.delete.retention.ms": "86400000",
    "log.cleaner.min.compaction.lag.ms": "0",
    "log.cleaner.max.compaction.lag.ms": str(LONG_MAX),
    "log.cleaner.min.cleanable.ratio": "0.5",
    "log.segment.delete.delay.ms": "60000",
    "log.flush.interval.messages": str(LONG_MAX),
    "log.flush.interval.ms": "",
    "log.flush.scheduler.interval.ms": str(LONG_MAX),
    "log.flush.offset.checkpoint.interval.ms": "60000",
    "log.index.interval.bytes": "4096",
    "log.index.size.max.bytes": "10485760",
    "log.message.timestamp.type": "CreateTime",
    "log.message.timestamp.difference.max.ms": str(LONG_MAX),
    "log.message.timestamp.before.max.ms": str(LONG_MAX),
    "log.message.timestamp.after.max.ms": str(LONG_MAX),
    "log.preallocate": "false",
    "num.recovery.threads.per.data.dir": "1",  # threads opening (recovering) logs at start-up, per log dir
    "compression.type": "producer",
    "min.insync.replicas": "1",
    "replica.lag.time.max.ms": "30000",
    "leader.replication.throttled.rate": str(LONG_MAX),
    "follower.replication.throttled.rate": str(LONG_MAX),
    "replica.alter.log.dirs.io.max.bytes.per.second": str(LONG_MAX),
    "replica.high.watermark.checkpoint.interval.ms": "5000",
    "unclean.leader.election.enable": "false",
    "auto.leader.rebalance.enable": "true",
    "leader.imbalance.check.interval.seconds": "300",
    "leader.imbalance.per.broker.percentage": "10",
    "controlled.shutdown.enable": "true",
    "controlled.shutdown.max.retries": "3",
    "controlled.shutdown.retry.backoff.ms": "5000",
    "offsets.topic.num.partitions": "50",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.segment.bytes": "104857600",
    "offsets.retention.minutes": "10080",
    "offsets.retention.check.interval.ms": "600000",
    "offsets.commit.timeout.ms": "5000",
    "offset.metadata.max.bytes": "4096",
    "group.initial.rebalance.delay.ms": "3000",
    "group.min.session.timeout.ms": "6000",
    "group.max.session.timeout.ms": "1800000",
    "group.max.size": "2147483647",
    "transactional.id.expiration.ms": "604800000",
    "transaction.state.log.num.partitions": "50",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "transaction.state.log.segment.bytes": "104857600",
    "transaction.max.timeout.ms": "900000",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "10000",
    "transaction.remove.expired.transaction.cleanup.interval.ms": "3600000",
    "producer.id.expiration.ms": "86400000",
    "producer.id.expiration.check.interval.ms": "600000",
    "connections.max.idle.ms": "600000",
    "quota.window.num": "11",  # client quotas: samples of quota.window.size.seconds each
    "quota.window.size.seconds": "1",
    "fetch.max.bytes": "57671680",  # 55 MiB: the most one consumer Fetch makes the broker read
    "replica.fetch.response.max.bytes": "10485760",  # the same for a follower's Fetch
    "zookeeper.connect": "",  # host:port[,host:port...][/chroot]; empty: the embedded single-node store
    "zookeeper.session.timeout.ms": "18000",
    "zookeeper.connection.timeout.ms": "18000",
    # brook's own: a compressed batch that inflates past this many bytes is refused (MESSAGE_TOO_LARGE);
    # produce validation inflates it as a bounded stream, so this caps CPU time, not memory
    "brook.batch.max.uncompressed.bytes": "67108864",
    # brook's own: the most partitions one topic may have (CreateTopics/CreatePartitions: POLICY_VIOLATION)
    "brook.topic.max.partitions": "10000",
    # brook's own: file descriptors kept free for connections, replication and short-lived files; the rest
    # of the open-files limit is the partition budget CreateTopics/CreatePartitions are checked against
    "brook.open.files.reserved": "1024",
    # brook's own: at most this many inactive segments keep their file open for reads (an LRU)
    "brook.log.open.inactive.segments.max": "256",
    "max.connections": "2147483647",
    "max.connections.per.ip": "2147483647",
    "max.connections.per.ip.overrides": "",  # host:count,host:count
    # brook's own: Prometheus metrics at http://<brook.metrics.host>:<port>/metrics (-1: off, 0: any free port)
    "brook.metrics.port": "-1",
    "brook.metrics.host": "127.0.0.1",  # its own address, never the client listener's
    # brook's own: array elements one request may hold in all (each becomes a Python object when decoded)
    "brook.request.max.elements": "200000",
    "authorizer.class.name": "",
    "super.users": "",
    "allow.everyone.if.no.acl.found": "false",
    # brook's own: the web console served from the broker process at http://<host>:<port>/ (-1: off, 0: any
    # free port); it is a Kafka client of this broker's listener
    "brook.console.port": "-1",
    "brook.console.host": "127.0.0.1",
    # the listener it connects to ("": the inter-broker listener) and, as a Kafka client, its TLS and SASL
    # settings ("": the listener's ssl.* as a client, and the inter-broker SASL credentials); docs/console.md
    "brook.console.listener.name": "",
    "brook.console.sasl.mechanism": "",
    "brook.console.sasl.jaas.config": "",
    "brook.console.ssl.truststore.type": "",
    "brook.console.ssl.truststore.location": "",
    "brook.console.ssl.keystore.type": "",
    "brook.console.ssl.keystore.location": "",
    "brook.console.ssl.keystore.password": "",
    "brook.console.ssl.key.password": "",
    "brook.console.ssl.endpoint.identification.algorithm": "",
}


def load_properties(path: Path) -> dict[str, str]:
    """Parse a Java-style .properties file (key=value or key: value, # and ! comments)."""
    props: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if sep < 0:
            props[line] = ""
            continue
        props[line[:sep].strip()] = line[sep + 1 :].strip()
    return props


class DynamicConfigs:
    """Dynamic broker configs from the metadata store (Kafka's /config/brokers/<id> and /config/brokers/<default>):
    this broker's own win over the cluster default, and both over the static properties. Replaced whole on the
    event loop (dynamic_config.py) when the store changes; every holder of the BrokerConfig sees the new values."""

    def __init__(self) -> None:
        self.per_broker: Mapping[str, str] = {}
        self.cluster_default: Mapping[str, str] = {}
        self.stored: tuple[dict[str, str], dict[str, str]] = ({}, {})  # as last read from the store

    def get(self, key: str) -> str | None:
        value = self.per_broker.get(key)
        return value if value is not None else self.cluster_default.get(key)


@dataclass(frozen=True)
class BrokerConfig:
    """Effective broker properties: Kafka's defaults, then the file, then overrides, then dynamic configs."""

    props: Mapping[str, str] = field(default_factory=dict)
    dynamic: DynamicConfigs = field(default_factory=DynamicConfigs, compare=False)

    @classmethod
    def from_sources(
        cls, file: Path | None = None, overrides: Iterable[tuple[str, str]] = ()
    ) -> BrokerConfig:
        merged = dict(BROKER_DEFAULTS)
        if file is not None:
            merged.update(load_properties(file))
        merged.update(overrides)
        return cls(merged)

    def get(self, key: str) -> str:
        value = self.dynamic.get(key)
        if value is not None:
            return value
        return self.props.get(key, BROKER_DEFAULTS.get(key, ""))

    def static(self, key: str) -> str:
        """The value from the defaults, the file and the overrides only (no dynamic config)."""
        return self.props.get(key, BROKER_DEFAULTS.get(key, ""))

    def is_default(self, key: str) -> bool:
        return self.get(key) == BROKER_DEFAULTS.get(key)

    def int(self, key: str) -> builtins.int:
        return int(self.get(key))

    def bool(self, key: str) -> bool:
        return _bool(self.get(key))

    @property
    def node_id(self) -> builtins.int:
        broker_id = self.get("broker.id")
        return int(broker_id) if broker_id not in ("", "-1") else self.int("node.id")

    @property
    def log_dirs(self) -> list[Path]:
        dirs = self.get("log.dirs") or self.get("log.dir")
        return [Path(d.strip()) for d in dirs.split(",") if d.strip()]

    @property
    def listener(self) -> tuple[str, builtins.int]:
        return _parse_listener(self.get("listeners").split(",")[0])

    @property
    def advertised_listener(self) -> tuple[str, builtins.int]:
        advertised = self.get("advertised.listeners")
        host, port = _parse_listener(advertised.split(",")[0]) if advertised else self.listener
        return (host or "127.0.0.1", port)

    @property
    def retention_ms(self) -> builtins.int:
        """Kafka's logRetentionTimeMillis: ms, else minutes, else hours; below 0 means unlimited (-1)."""
        for key, factor in (("log.retention.ms", 1), ("log.retention.minutes", 60_000)):
            if self.get(key):
                return max(-1, int(self.get(key)) * factor)
        return max(-1, int(self.get("log.retention.hours")) * 3_600_000)

    @property
    def segment_ms(self) -> builtins.int:
        if self.get("log.roll.ms"):
            return self.int("log.roll.ms")
        return self.int("log.roll.hours") * 3_600_000

    def topic_default(self, name: str) -> str:
        """The broker-level default of a topic config (what a topic without an override gets)."""
        if name == "retention.ms":
            return str(self.retention_ms)
        if name == "segment.ms":
            return str(self.segment_ms)
        definition = TOPIC_CONFIGS[name]
        if definition.broker_key and self.get(definition.broker_key):
            return self.get(definition.broker_key)
        return definition.default


def check_broker_props(props: Mapping[str, str]) -> list[str]:
    """Check every known key's value with its type and range (config_def.BROKER_KEYS): the first invalid
    one raises InvalidConfig naming the key, the value and what is allowed. Returns one warning per
    unknown key, naming the closest known key when there is one (Kafka only logs unknown keys)."""
    warnings = []
    for name, value in props.items():
        key = BROKER_KEYS.get(_unprefixed(name))
        if key is None:
            warnings.append(unknown_key_warning(name, BROKER_KEYS))
        else:
            parse_value(name, value, key)
    return warnings


def _unprefixed(name: str) -> str:
    """`listener.name.<listener>.<key>` is checked as <key>; `...<mechanism>.sasl.jaas.config` as sasl.jaas.config."""
    if not name.startswith("listener.name."):
        return name
    rest = name.removeprefix("listener.name.").partition(".")[2]
    return "sasl.jaas.config" if rest.endswith(".sasl.jaas.config") else rest


def _parse_listener(listener: str) -> tuple[str, int]:
    address = listener.split("://", 1)[-1]
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def validate_topic_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    """Check names and values; raises InvalidConfig with Kafka-like messages."""
    checked: dict[str, str] = {}
    for name, value in configs.items():
        definition = TOPIC_CONFIGS.get(name)
        if definition is None:
            raise InvalidConfig(unknown_topic_config(name))
        if value is None:
            raise InvalidConfig(f"Null value not supported for topic config {name}")
        definition.parse(value)  # InvalidConfig: Invalid value <v> for configuration <name>: <allowed>
        checked[name] = value
    return checked


def unknown_topic_config(name: str) -> str:
    """Kafka's message, with the closest topic config when one is close."""
    close = difflib.get_close_matches(name, list(TOPIC_CONFIGS), n=1, cutoff=0.75)
    return f"Unknown topic config name: {name}" + (f"; did you mean {close[0]}?" if close else "")


def effective_topic_configs(broker: BrokerConfig, overrides: Mapping[str, str]) -> dict[str, str]:
    return {name: overrides.get(name, broker.topic_default(name)) for name in TOPIC_CONFIGS}


def log_config_for(broker: BrokerConfig, overrides: Mapping[str, str]) -> LogConfig:
    values = effective_topic_configs(broker, overrides)
    return LogConfig(
        segment_bytes=int(values["segment.bytes"]),
        segment_ms=int(values["segment.ms"]),
        segment_index_bytes=int(values["segment.index.bytes"]),
        index_interval_bytes=int(values["index.interval.bytes"]),
        retention_ms=int(values["retention.ms"]),
        retention_bytes=int(values["retention.bytes"]),
        cleanup_policy=values["cleanup.policy"],
        delete_retention_ms=int(values["delete.retention.ms"]),
        min_compaction_lag_ms=int(values["min.compaction.lag.ms"]),
        file_delete_delay_ms=int(values["file.delete.delay.ms"]),
        flush_messages=int(values["flush.messages"]),
        flush_ms=int(values["flush.ms"]),
        max_message_bytes=int(values["max.message.bytes"]),
        message_timestamp_type=values["message.timestamp.type"],
        compression_type=values["compression.type"],
        message_timestamp_before_max_ms=_timestamp_bound(values, "before"),
        message_timestamp_after_max_ms=_timestamp_bound(values, "after"),
    )


def _timestamp_bound(values: Mapping[str, str], side: str) -> int:
    """Kafka 3.6+: message.timestamp.<side>.max.ms when set, else the older difference.max.ms."""
    bound = int(values[f"message.timestamp.{side}.max.ms"])
    return bound if bound != LONG_MAX else int(values["message.timestamp.difference.max.ms"])
