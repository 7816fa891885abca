"""Kafka's ConfigDef semantics for broker and topic configs: types, ranges, valid strings, unknown keys."""

import pytest

from brook.broker.config import (
    BROKER_DEFAULTS,
    TOPIC_CONFIGS,
    BrokerConfig,
    check_broker_props,
    validate_topic_configs,
)
from brook.broker.config_def import BROKER_KEYS, ConfigKey, at_least, parse_value
from brook.common.errors import InvalidConfig


def test_every_broker_key_has_a_type_and_its_default_is_valid():
    assert set(BROKER_KEYS) == set(BROKER_DEFAULTS)
    assert check_broker_props(BROKER_DEFAULTS) == []


def test_every_topic_default_is_valid():
    validate_topic_configs({name: d.default for name, d in TOPIC_CONFIGS.items()})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "num.partitions",
            "abc",
            "Invalid value abc for configuration num.partitions: Not a number of type INT",
        ),
        ("num.partitions", "0", "Invalid value 0 for configuration num.partitions: Value must be at least 1"),
        (
            "num.partitions",
            "2147483648",
            "Invalid value 2147483648 for configuration num.partitions: Not a number of type INT",
        ),
        (
            "log.retention.hours",
            "-5x",
            "Invalid value -5x for configuration log.retention.hours: Not a number of type INT",
        ),
        (
            "log.retention.bytes",
            "1.5",
            "Invalid value 1.5 for configuration log.retention.bytes: Not a number of type LONG",
        ),
        (
            "offsets.topic.replication.factor",
            "40000",
            "Invalid value 40000 for configuration offsets.topic.replication.factor: Not a number of type SHORT",
        ),
        (
            "auto.create.topics.enable",
            "yes",
            "Invalid value yes for configuration auto.create.topics.enable: Expected value to be either true or false",
        ),
        (
            "log.cleaner.min.cleanable.ratio",
            "1.5",
            "Invalid value 1.5 for configuration log.cleaner.min.cleanable.ratio: Value must be no more than 1",
        ),
        (
            "log.cleaner.min.cleanable.ratio",
            "half",
            "Invalid value half for configuration log.cleaner.min.cleanable.ratio: Not a number of type DOUBLE",
        ),
        (
            "log.cleanup.policy",
            "compact,sometimes",
            "Invalid value [compact, sometimes] for configuration log.cleanup.policy: String must be one of: compact, delete",
        ),
        (
            "log.message.timestamp.type",
            "Now",
            "Invalid value Now for configuration log.message.timestamp.type: String must be one of: CreateTime, LogAppendTime",
        ),
        (
            "compression.type",
            "brotli",
            "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer",
        ),
        (
            "brook.metrics.port",
            "70000",
            "Invalid value 70000 for configuration brook.metrics.port: Value must be no more than 65535",
        ),
    ],
)
def test_invalid_values_name_the_key_the_value_and_what_is_allowed(key, value, message):
    with pytest.raises(InvalidConfig) as raised:
        check_broker_props({**BROKER_DEFAULTS, key: value})
    assert str(raised.value) == message


def test_listeners_must_be_name_host_and_port():
    for bad in ("localhost:9092", "PLAINTEXT://host", "PLAINTEXT://host:99999", ""):
        with pytest.raises(InvalidConfig, match="configuration listeners"):
            check_broker_props({"listeners": bad})
    assert check_broker_props({"listeners": "PLAINTEXT://:9092,INTERNAL://[::1]:9093"}) == []


def test_types_parse_as_kafka_does():
    assert parse_value("k", " 42 ", ConfigKey("INT")) == 42
    assert parse_value("k", "TRUE", ConfigKey("BOOLEAN")) is True
    assert parse_value("k", "a, b ,c", ConfigKey("LIST")) == ["a", "b", "c"]
    assert parse_value("k", "0.25", ConfigKey("DOUBLE")) == 0.25
    assert parse_value("k", "org.example.Policy", ConfigKey("CLASS")) == "org.example.Policy"
    assert parse_value("k", "", ConfigKey("LONG", at_least(1), nullable=True)) is None
    with pytest.raises(InvalidConfig, match="Class 1nope could not be found"):
        parse_value("k", "1nope", ConfigKey("CLASS"))
    with pytest.raises(InvalidConfig, match="Not a number of type DOUBLE"):
        parse_value("k", "nan", ConfigKey("DOUBLE"))


def test_unknown_keys_are_warnings_with_the_closest_known_key():
    warnings = check_broker_props({"num.partitons": "3", "totally.unrelated.thing": "1"})
    assert warnings == [
        "The configuration 'num.partitons' was supplied but isn't a known config; did you mean num.partitions?",
        "The configuration 'totally.unrelated.thing' was supplied but isn't a known config; it is ignored",
    ]


def test_negative_retention_hours_mean_unlimited_as_in_kafka():
    assert BrokerConfig({"log.retention.hours": "-5"}).retention_ms == -1
    assert BrokerConfig({"log.retention.ms": "-1"}).retention_ms == -1
    assert BrokerConfig({"log.retention.minutes": "2"}).retention_ms == 120_000


def test_topic_configs_get_kafkas_messages_without_python_internals():
    with pytest.raises(InvalidConfig) as raised:
        validate_topic_configs({"retention.ms": "soon"})
    assert str(raised.value) == "Invalid value soon for configuration retention.ms: Not a number of type LONG"
    with pytest.raises(InvalidConfig) as raised:
        validate_topic_configs({"segment.bytes": "10"})
    assert str(raised.value) == "Invalid value 10 for configuration segment.bytes: Value must be at least 14"
    with pytest.raises(InvalidConfig) as raised:
        validate_topic_configs({"retention.msx": "1"})
    assert str(raised.value) == "Unknown topic config name: retention.msx; did you mean retention.ms?"
    assert validate_topic_configs({"cleanup.policy": "compact, delete"}) == {
        "cleanup.policy": "compact, delete"
    }
