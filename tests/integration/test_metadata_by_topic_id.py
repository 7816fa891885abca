"""Metadata v12 (KIP-516): topics looked up by id, as the Java AdminClient's describeTopics(TopicCollection.ofTopicIds)
does; an unknown id is UNKNOWN_TOPIC_ID with a null name."""

from __future__ import annotations

import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from brook.common.errors import ErrorCode
from tests.integration.raw_client import RawClient


def test_metadata_v12_finds_topics_by_id_and_answers_unknown_ids(kafka_broker):
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    admin.create_topics([NewTopic("by-id", num_partitions=2, replication_factor=1)])["by-id"].result(10)
    raw = RawClient(kafka_broker.bootstrap)
    try:
        by_name = raw.request(
            3,
            12,
            {
                "topics": [{"name": "by-id", "topic_id": None}],
                "allow_auto_topic_creation": False,
                "include_topic_authorized_operations": False,
            },
        )
        [named] = by_name.topics
        assert named.error_code == ErrorCode.none
        assert named.topic_id != uuid.UUID(int=0)

        unknown = uuid.uuid4()
        body = {
            # the Java client sends name "" with an id: the id decides
            "topics": [{"name": "", "topic_id": named.topic_id}, {"name": None, "topic_id": unknown}],
            "allow_auto_topic_creation": False,
            "include_topic_authorized_operations": False,
        }
        for _ in range(2):  # the second answer must not come from a cache that kept the unknown id's error
            found, missing = raw.request(3, 12, body).topics
            assert (found.error_code, found.name, found.topic_id) == (ErrorCode.none, "by-id", named.topic_id)
            assert sorted(p.partition_index for p in found.partitions) == [0, 1]
            assert (missing.error_code, missing.name, missing.topic_id) == (
                ErrorCode.unknown_topic_id,
                None,
                unknown,
            )
            assert missing.partitions == ()

        # Before v12 a topic needs a name.
        old = raw.request(
            3,
            11,
            {
                "topics": [{"name": None, "topic_id": named.topic_id}],
                "allow_auto_topic_creation": False,
                "include_topic_authorized_operations": False,
            },
        )
        assert [t.error_code for t in old.topics] == [ErrorCode.invalid_request]
    finally:
        raw.close()
