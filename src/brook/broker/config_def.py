"""Kafka's ConfigDef semantics for brook's configuration: each key's type and allowed values.

`parse_value(name, value, key)` turns a property string into a value of the key's type, or raises
InvalidConfig with Kafka's message: `Invalid value <value> for configuration <name>: <what is allowed>`.
Types parse as Kafka's ConfigDef.parseType does (surrounding blanks ignored, BOOLEAN case-insensitive,
INT/SHORT/LONG within their Java ranges, LIST comma-separated); the validators are Kafka's
(Range.atLeast/between, ValidString.in, ValidList.in).

BROKER_KEYS holds the type of every broker property brook reads (config.py's BROKER_DEFAULTS; a unit
test keeps the two in step). A key marked `nullable` has no default (Kafka's null): empty means unset.
Unknown keys are not errors, as in Kafka: `unknown_key_warning` names the closest known key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from brook.common.errors import InvalidConfig
from brook.security.authorizer import authorizer_selected

__all__ = [
    "BROKER_KEYS",
    "CONFIG_TYPE_IDS",
    "ConfigKey",
    "at_least",
    "between",
    "invalid",
    "one_of",
    "parse_value",
    "unknown_key_warning",
    "valid_list",
]

_RANGES = {"SHORT": 2**15, "INT": 2**31, "LONG": 2**63}
# Kafka's ConfigType ids, as DescribeConfigs v3+ reports them
CONFIG_TYPE_IDS = {
    "BOOLEAN": 1,
    "STRING": 2,
    "INT": 3,
    "SHORT": 4,
    "LONG": 5,
    "DOUBLE": 6,
    "LIST": 7,
    "CLASS": 8,
    "PASSWORD": 9,
}
_INTEGER = re.compile(r"[+-]?\d+")
_CLASS_NAME = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*")

Validator = Callable[[Any], str | None]  # the message when the parsed value is not allowed, else None


def invalid(name: str, value: object, message: str) -> InvalidConfig:
    """Kafka's ConfigException text."""
    shown = "[" + ", ".join(value) + "]" if isinstance(value, list) else value
    return InvalidConfig(f"Invalid value {shown} for configuration {name}: {message}")


def at_least(minimum: float) -> Validator:
    return lambda v: None if v >= minimum else f"Value must be at least {minimum}"


def between(minimum: float, maximum: float) -> Validator:
    def check(v: Any) -> str | None:
        if v < minimum:
            return f"Value must be at least {minimum}"
        if v > maximum:
            return f"Value must be no more than {maximum}"
        return None

    return check


def one_of(*choices: str) -> Validator:
    return lambda v: None if v in choices else f"String must be one of: {', '.join(choices)}"


def throttled_replica_list(v: Any) -> str | None:
    """Kafka's ThrottledReplicaListValidator: "*" alone, or "partition:broker" entries."""
    entries = [item.strip() for item in v]
    if entries == ["*"] or all(re.fullmatch(r"\d+:\d+", item) for item in entries):
        return None
    return "must be the wildcard (*) or a list of replicas in the form [partitionId]:[brokerId]"


def valid_list(*choices: str) -> Validator:
    def check(v: Any) -> str | None:
        if not v:
            return f"Value must be a non-empty list of: {', '.join(choices)}"
        bad = [item for item in v if item not in choices]
        return f"String must be one of: {', '.join(choices)}" if bad else None

    return check


@dataclass(frozen=True)
class ConfigKey:
    type: str  # Kafka's ConfigDef.Type: BOOLEAN STRING INT SHORT LONG DOUBLE LIST CLASS PASSWORD
    validator: Validator | None = None
    nullable: bool = False  # Kafka's null default: the empty string means "not set"


def _parse_type(name: str, value: str, kind: str) -> Any:
    text = value.strip()
    if kind == "BOOLEAN":
        if text.lower() not in ("true", "false"):
            raise invalid(name, value, "Expected value to be either true or false")
        return text.lower() == "true"
    if kind in _RANGES:
        limit = _RANGES[kind]
        if not _INTEGER.fullmatch(text) or not -limit <= int(text) < limit:
            raise invalid(name, value, f"Not a number of type {kind}")
        return int(text)
    if kind == "DOUBLE":
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or text.lower() in ("inf", "-inf", "+inf", "infinity", "-infinity"):
            raise invalid(name, value, "Not a number of type DOUBLE")
        return number
    if kind == "LIST":
        return [item.strip() for item in text.split(",")] if text else []
    if kind == "CLASS":
        if not _CLASS_NAME.fullmatch(text):
            raise invalid(name, value, f"Class {text} could not be found.")
        return text
    return text  # STRING, PASSWORD: as given, blanks trimmed (Kafka trims too)


def parse_value(name: str, value: str, key: ConfigKey) -> Any:
    """The value as `key`'s type; raises InvalidConfig (Kafka's message) when it is not allowed."""
    if key.nullable and not value.strip():
        return None
    parsed = _parse_type(name, value, key.type)
    if key.validator is not None:
        message = key.validator(parsed)
        if message is not None:
            raise invalid(name, parsed if key.type == "LIST" else value.strip(), message)
    return parsed


def unknown_key_warning(name: str, known: Iterable[str]) -> str:
    """Kafka's warning for a key it does not know, with the closest known key when one is close."""
    text = f"The configuration '{name}' was supplied but isn't a known config"
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f"{text}; did you mean {close[0]}?" if close else f"{text}; it is ignored"


def _listener_list(value: Sequence[str]) -> str | None:
    for listener in value:
        scheme, sep, address = listener.partition("://")
        _host, colon, port = address.rpartition(":")
        if not sep or not colon or not _INTEGER.fullmatch(port) or not 0 <= int(port) <= 65535:
            return "Expected a comma-separated list of listeners like PLAINTEXT://host:port (port 0-65535)"
        if not scheme:
            return "A listener needs a name, as in PLAINTEXT://host:port"
    return None


def _non_empty_listeners(value: Sequence[str]) -> str | None:
    return "At least one listener is needed" if not value else _listener_list(value)


def _ip_overrides(value: Sequence[str]) -> str | None:
    for item in value:
        host, sep, count = item.rpartition(":")
        if not sep or not host or not _INTEGER.fullmatch(count) or int(count) < 0:
            return "Expected a comma-separated list of host:count with counts at least 0"
    return None


def _authorizer_class(value: str) -> str | None:
    try:
        authorizer_selected(value)
    except ValueError as exc:
        return str(exc)
    return None


_LONG = ConfigKey("LONG")
_INT = ConfigKey("INT")
_BOOLEAN = ConfigKey("BOOLEAN")
_STRING = ConfigKey("STRING")

BROKER_KEYS: dict[str, ConfigKey] = {
    "node.id": _INT,
    "broker.id": ConfigKey("INT", nullable=True),
    "listeners": ConfigKey("LIST", _non_empty_listeners),
    "advertised.listeners": ConfigKey("LIST", _listener_list, nullable=True),
    "listener.security.protocol.map": ConfigKey("LIST"),
    "inter.broker.listener.name": ConfigKey("STRING", nullable=True),
    "security.inter.broker.protocol": ConfigKey(
        "STRING", one_of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    ),
    "ssl.keystore.type": _STRING,
    "ssl.keystore.location": ConfigKey("STRING", nullable=True),
    "ssl.keystore.password": ConfigKey("PASSWORD", nullable=True),
    "ssl.key.password": ConfigKey("PASSWORD", nullable=True),
    "ssl.keystore.certificate.chain": ConfigKey("PASSWORD", nullable=True),
    "ssl.keystore.key": ConfigKey("PASSWORD", nullable=True),
    "ssl.truststore.type": _STRING,
    "ssl.truststore.location": ConfigKey("STRING", nullable=True),
    "ssl.truststore.password": ConfigKey("PASSWORD", nullable=True),
    "ssl.truststore.certificates": ConfigKey("PASSWORD", nullable=True),
    "ssl.client.auth": ConfigKey("STRING", one_of("none", "requested", "required")),
    "ssl.enabled.protocols": ConfigKey("LIST"),
    "ssl.cipher.suites": ConfigKey("LIST", nullable=True),
    "ssl.endpoint.identification.algorithm": ConfigKey("STRING", nullable=True),
    "ssl.principal.mapping.rules": _STRING,
    "sasl.enabled.mechanisms": ConfigKey("LIST"),
    "sasl.mechanism.inter.broker.protocol": _STRING,
    "sasl.jaas.config": ConfigKey("PASSWORD", nullable=True),
    "connections.max.reauth.ms": ConfigKey("LONG", at_least(0)),
    "sasl.server.max.receive.size": ConfigKey("INT", at_least(1)),
    "log.dirs": ConfigKey("STRING", nullable=True),
    "log.dir": _STRING,
    "num.partitions": ConfigKey("INT", at_least(1)),
    "default.replication.factor": ConfigKey("INT", at_least(1)),
    "auto.create.topics.enable": _BOOLEAN,
    "delete.topic.enable": _BOOLEAN,
    "message.max.bytes": ConfigKey("INT", at_least(0)),
    "socket.request.max.bytes": ConfigKey("INT", at_least(1)),
    "queued.max.requests": ConfigKey("INT", at_least(1)),
    "queued.max.request.bytes": _LONG,
    "log.segment.bytes": ConfigKey("INT", at_least(14)),  # LegacyRecord.RECORD_OVERHEAD_V0
    "log.roll.hours": ConfigKey("INT", at_least(1)),
    "log.roll.ms": ConfigKey("LONG", at_least(1), nullable=True),
    "log.retention.hours": _INT,
    "log.retention.minutes": ConfigKey("INT", nullable=True),
    "log.retention.ms": ConfigKey("LONG", at_least(-1), nullable=True),
    "log.retention.bytes": _LONG,
    "log.retention.check.interval.ms": ConfigKey("LONG", at_least(1)),
    "log.cleanup.policy": ConfigKey("LIST", valid_list("compact", "delete")),
    "log.cleaner.enable": _BOOLEAN,
    "log.cleaner.backoff.ms": ConfigKey("LONG", at_least(0)),
    "log.cleaner.delete.retention.ms": ConfigKey("LONG", at_least(0)),
    "log.cleaner.min.compaction.lag.ms": ConfigKey("LONG", at_least(0)),
    "log.cleaner.max.compaction.lag.ms": ConfigKey("LONG", at_least(1)),
    "log.cleaner.min.cleanable.ratio": ConfigKey("DOUBLE", between(0, 1)),
    "log.segment.delete.delay.ms": ConfigKey("LONG", at_least(0)),
    "log.flush.interval.messages": ConfigKey("LONG", at_least(1)),
    "log.flush.interval.ms": ConfigKey("LONG", at_least(0), nullable=True),
    "log.flush.scheduler.interval.ms": _LONG,
    "log.flush.offset.checkpoint.interval.ms": ConfigKey("INT", at_least(0)),
    "log.index.interval.bytes": ConfigKey("INT", at_least(0)),
    "log.index.size.max.bytes": ConfigKey("INT", at_least(4)),
    "log.message.timestamp.type": ConfigKey("STRING", one_of("CreateTime", "LogAppendTime")),
    "log.message.timestamp.difference.max.ms": ConfigKey("LONG", at_least(0)),
    "log.message.timestamp.before.max.ms": ConfigKey("LONG", at_least(0)),
    "log.message.timestamp.after.max.ms": ConfigKey("LONG", at_least(0)),
    "log.preallocate": _BOOLEAN,
    "num.recovery.threads.per.data.dir": ConfigKey("INT", at_least(1)),
    "compression.type": ConfigKey(
        "STRING", one_of("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
    ),
    "min.insync.replicas": ConfigKey("INT", at_least(1)),
    "replica.lag.time.max.ms": ConfigKey("LONG", at_least(1)),
    # replication throttles (broker/replication_quota.py), dynamic as in Kafka
    "leader.replication.throttled.rate": ConfigKey("LONG", at_least(0)),
    "follower.replication.throttled.rate": ConfigKey("LONG", at_least(0)),
    "replica.alter.log.dirs.io.max.bytes.per.second": ConfigKey("LONG", at_least(0)),
    "replica.high.watermark.checkpoint.interval.ms": ConfigKey("LONG", at_least(1)),
    "unclean.leader.election.enable": _BOOLEAN,
    "auto.leader.rebalance.enable": _BOOLEAN,
    "leader.imbalance.check.interval.seconds": ConfigKey("LONG", at_least(1)),
    "leader.imbalance.per.broker.percentage": ConfigKey("INT"),
    "controlled.shutdown.enable": _BOOLEAN,
    "controlled.shutdown.max.retries": ConfigKey("INT", at_least(0)),
    "controlled.shutdown.retry.backoff.ms": ConfigKey("LONG", at_least(0)),
    "offsets.topic.num.partitions": ConfigKey("INT", at_least(1)),
    "offsets.topic.replication.factor": ConfigKey("SHORT", at_least(1)),
    "offsets.topic.segment.bytes": ConfigKey("INT", at_least(1)),
    # Kafka: atLeast(1); brook also takes 0 (offsets of empty groups expire at the next check, for tests)
    "offsets.retention.minutes": ConfigKey("INT", at_least(0)),
    "offsets.retention.check.interval.ms": ConfigKey("LONG", at_least(1)),
    "offsets.commit.timeout.ms": ConfigKey("INT", at_least(1)),
    "offset.metadata.max.bytes": ConfigKey("INT", at_least(0)),
    "group.initial.rebalance.delay.ms": ConfigKey("INT", at_least(0)),
    "group.min.session.timeout.ms": ConfigKey("INT", at_least(0)),
    "group.max.session.timeout.ms": ConfigKey("INT", at_least(0)),
    "group.max.size": ConfigKey("INT", at_least(1)),
    "transactional.id.expiration.ms": ConfigKey("INT", at_least(1)),
    "transaction.state.log.num.partitions": ConfigKey("INT", at_least(1)),
    "transaction.state.log.replication.factor": ConfigKey("SHORT", at_least(1)),
    "transaction.state.log.min.isr": ConfigKey("INT", at_least(1)),
    "transaction.state.log.segment.bytes": ConfigKey("INT", at_least(1)),
    "transaction.max.timeout.ms": ConfigKey("INT", at_least(1)),
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": ConfigKey("INT", at_least(1)),
    "transaction.remove.expired.transaction.cleanup.interval.ms": ConfigKey("INT", at_least(1)),
    "producer.id.expiration.ms": ConfigKey("INT", at_least(1)),
    "producer.id.expiration.check.interval.ms": ConfigKey("INT", at_least(1)),
    "connections.max.idle.ms": _LONG,
    "quota.window.num": ConfigKey("INT", at_least(1)),
    "quota.window.size.seconds": ConfigKey("INT", at_least(1)),
    "fetch.max.bytes": ConfigKey("INT", at_least(1024)),
    "replica.fetch.response.max.bytes": ConfigKey("INT", at_least(0)),
    "zookeeper.connect": ConfigKey("STRING", nullable=True),
    "zookeeper.session.timeout.ms": ConfigKey("INT", at_least(1)),
    "zookeeper.connection.timeout.ms": ConfigKey("INT", at_least(1)),
    "brook.batch.max.uncompressed.bytes": ConfigKey("INT", at_least(1)),
    "brook.topic.max.partitions": ConfigKey("INT", at_least(1)),
    "brook.open.files.reserved": ConfigKey("INT", at_least(0)),
    "brook.log.open.inactive.segments.max": ConfigKey("INT", at_least(1)),
    "max.connections": ConfigKey("INT", at_least(0)),
    "max.connections.per.ip": ConfigKey("INT", at_least(0)),
    "max.connections.per.ip.overrides": ConfigKey("LIST", _ip_overrides, nullable=True),
    "brook.metrics.port": ConfigKey("INT", between(-1, 65535)),
    "brook.metrics.host": _STRING,
    "brook.request.max.elements": ConfigKey("INT", at_least(1)),
    # authorization (security/authorizer.py); the last two are the authorizer's own keys, as in Kafka
    "authorizer.class.name": ConfigKey("STRING", _authorizer_class),
    "super.users": _STRING,
    "allow.everyone.if.no.acl.found": _BOOLEAN,
    "brook.console.port": ConfigKey("INT", between(-1, 65535)),
    "brook.console.host": _STRING,
    # the console's client settings (cli/serve_console.py): Kafka client names behind the brook.console. prefix
    "brook.console.listener.name": ConfigKey("STRING", nullable=True),
    "brook.console.sasl.mechanism": ConfigKey("STRING", nullable=True),
    "brook.console.sasl.jaas.config": ConfigKey("PASSWORD", nullable=True),
    "brook.console.ssl.truststore.type": ConfigKey("STRING", nullable=True),
    "brook.console.ssl.truststore.location": ConfigKey("STRING", nullable=True),
    "brook.console.ssl.keystore.type": ConfigKey("STRING", nullable=True),
    "brook.console.ssl.keystore.location": ConfigKey("STRING", nullable=True),
    "brook.console.ssl.keystore.password": ConfigKey("PASSWORD", nullable=True),
    "brook.console.ssl.key.password": ConfigKey("PASSWORD", nullable=True),
    "brook.console.ssl.endpoint.identification.algorithm": ConfigKey("STRING", nullable=True),
}
