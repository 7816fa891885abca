"""Cached Metadata answers follow every change of the cluster state they were built from."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from tests.integration.raw_client import RawClient


def _topics(raw: RawClient, names: list[str] | None) -> dict[str, int]:
    body = {
        "topics": None if names is None else [{"name": n} for n in names],
        "allow_auto_topic_creation": False,
    }
    response = raw.request(3, 11, body)
    return {t.name: len(t.partitions) for t in response.topics if t.error_code == 0}


def test_metadata_answers_follow_topic_changes(kafka_broker):
    raw = RawClient(kafka_broker.bootstrap)
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    admin.create_topics([NewTopic("cached", num_partitions=1, replication_factor=1)])["cached"].result(10)
    assert _topics(raw, ["cached"]) == {"cached": 1}
    assert _topics(raw, ["cached"]) == {"cached": 1}  # the same request twice: answered from the cache
    everything = _topics(raw, None)
    admin.create_partitions([NewPartitions("cached", 3)])["cached"].result(10)
    assert _topics(raw, ["cached"]) == {"cached": 3}
    admin.create_topics([NewTopic("later", num_partitions=2, replication_factor=1)])["later"].result(10)
    assert _topics(raw, None) == {**everything, "cached": 3, "later": 2}
    admin.delete_topics(["later"])["later"].result(10)
    assert "later" not in _topics(raw, None)
    raw.close()
