"""Which broker configs may change at run time, and Kafka's refusals (dynamic_config.py)."""

import pytest

from brook.broker.config import BrokerConfig
from brook.broker.dynamic_config import DYNAMIC_KEYS, _changed, broker_config_source, check_dynamic
from brook.common.errors import InvalidConfig, InvalidRequest


def test_dynamic_keys_are_kafkas_topic_default_synonyms_and_connection_limits():
    assert {
        "log.retention.ms",
        "log.roll.ms",
        "log.segment.bytes",
        "min.insync.replicas",
        "message.max.bytes",
    } <= DYNAMIC_KEYS
    assert {"max.connections", "max.connections.per.ip"} <= DYNAMIC_KEYS
    assert not {"num.partitions", "log.retention.hours", "listeners", "zookeeper.connect", ""} & DYNAMIC_KEYS


def test_static_keys_and_bad_values_get_kafkas_invalid_request():
    with pytest.raises(InvalidRequest) as raised:
        check_dynamic("0", {"log.retention.ms": "1", "num.partitions": "3", "broker.id": "2"})
    assert str(raised.value) == (
        "Invalid config value for resource ConfigResource(type=BROKER, name='0'): "
        "Cannot update these configs dynamically: Set(broker.id, num.partitions)"
    )
    with pytest.raises(InvalidRequest) as raised:
        check_dynamic("", {"min.insync.replicas": "0"})
    assert str(raised.value) == (
        "Invalid config value for resource ConfigResource(type=BROKER, name=''): "
        "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"
    )
    check_dynamic("", {"log.cleanup.policy": "compact,delete", "max.connections": "100"})


def test_incremental_operations():
    current = {"log.retention.ms": "1", "log.cleanup.policy": "delete"}
    assert _changed(current, [("log.retention.ms", 1, None), ("log.roll.ms", 0, "9")]) == {
        "log.cleanup.policy": "delete",
        "log.roll.ms": "9",
    }
    assert _changed(current, [("log.cleanup.policy", 2, "compact")])["log.cleanup.policy"] == "delete,compact"
    assert _changed(current, [("log.cleanup.policy", 3, "delete")])["log.cleanup.policy"] == ""
    with pytest.raises(
        InvalidConfig, match=r"Config value append is not allowed for config key: log\.retention\.ms"
    ):
        _changed(current, [("log.retention.ms", 2, "5")])


def test_sources_follow_kafkas_precedence():
    config = BrokerConfig({"num.partitions": "3", "log.retention.ms": "10"})
    assert broker_config_source(config, "num.partitions") == 4  # STATIC_BROKER_CONFIG
    assert broker_config_source(config, "log.segment.bytes") == 5  # DEFAULT_CONFIG
    config.dynamic.cluster_default = {"log.retention.ms": "20"}
    assert (config.get("log.retention.ms"), broker_config_source(config, "log.retention.ms")) == ("20", 3)
    config.dynamic.per_broker = {"log.retention.ms": "30"}
    assert (config.get("log.retention.ms"), broker_config_source(config, "log.retention.ms")) == ("30", 2)
    assert config.retention_ms == 30
    assert config.static("log.retention.ms") == "10"
