"""Which broker properties supply a topic config's default, most specific first (DescribeConfigs' synonyms)."""

import pytest

from brook.broker.config import TOPIC_CONFIGS, broker_synonyms


def test_retention_and_roll_have_kafkas_three_and_two_broker_synonyms() -> None:
    assert broker_synonyms("retention.ms") == (
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    )
    assert broker_synonyms("segment.ms") == ("log.roll.ms", "log.roll.hours")


@pytest.mark.parametrize(
    ("topic_config", "broker_property"),
    [
        ("cleanup.policy", "log.cleanup.policy"),
        ("max.message.bytes", "message.max.bytes"),
        ("segment.bytes", "log.segment.bytes"),
        ("min.insync.replicas", "min.insync.replicas"),
    ],
)
def test_other_topic_configs_have_their_one_broker_property(topic_config: str, broker_property: str) -> None:
    assert broker_synonyms(topic_config) == (broker_property,)


def test_every_topic_config_has_a_broker_synonym_but_the_throttled_replica_lists() -> None:
    """As in Kafka: the throttled replicas of a topic have no broker-wide default."""
    without = {name for name in TOPIC_CONFIGS if not broker_synonyms(name)}
    assert without == {"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}
