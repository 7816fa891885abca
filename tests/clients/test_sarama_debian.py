"""Debian's Sarama (golang-github-shopify-sarama-dev, Sarama 1.22) at its default protocol version, 0.8.2.0, the
way a Debian user runs it: the oldest request versions (Metadata v0, Produce v0 with message format v0,
Fetch v0, ListOffsets v0, FindCoordinator v0, OffsetCommit v0-1, OffsetFetch v0-1), and DescribeConfigs v0
from its ClusterAdmin (which Sarama allows from 0.11 on and always sends as v0).

The scenarios live in tests/clients/go-debian (built against /usr/share/gocode by `make go-clients`). Each test's
topic is made and filled by confluent-kafka, so each test checks one old API.
"""

from __future__ import annotations

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing.broker_process import BrookProcess
from tests.clients.go_driver import partition_offsets, run_go_driver

pytestmark = pytest.mark.integration

# Sarama turns a ListOffsets v0 answer without an offset into this error.
NO_OFFSET = (
    "kafka server: The requested offset is outside the range of offsets maintained by the server "
    "for the given topic/partition."
)


@pytest.fixture
def topic(go_broker: BrookProcess, request: pytest.FixtureRequest) -> str:
    """A topic of this test's own: 2 partitions, retention.ms=3600000."""
    name = "deb-" + request.node.name.removeprefix("test_debian_sarama_").replace("_", "-")
    admin = AdminClient({"bootstrap.servers": go_broker.bootstrap})
    new = NewTopic(name, num_partitions=2, replication_factor=1, config={"retention.ms": "3600000"})
    for future in admin.create_topics([new]).values():
        future.result(timeout=30)
    return name


def _fill_partition_0(bootstrap: str, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(count):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=0)
    assert producer.flush(30) == 0


def _debian(scenario: str, broker: BrookProcess, topic: str) -> dict:
    return run_go_driver("brookgo-debian", scenario, broker.bootstrap, topic)


def test_debian_sarama_lists_topics_with_metadata_v0(go_broker, topic):
    report = _debian("metadata", go_broker, topic)
    assert report["version"] == "0.8.2.0"
    assert topic in report["topics"]
    assert report["partitions"] == [0, 1]
    assert report["leaders"] == {"0": 0, "1": 0}
    assert report["brokers"] == 1


def test_debian_sarama_describe_configs_v0(go_broker, topic):
    report = _debian("describe-configs", go_broker, topic)
    configs = report["configs"]
    assert configs["retention.ms"] == {"value": "3600000", "default": False, "read_only": False}
    assert configs["cleanup.policy"] == {"value": "delete", "default": True, "read_only": False}
    assert report["missing_topic_error"] != ""


def test_debian_sarama_produce_and_consume_v0(go_broker, topic):
    report = _debian("produce-consume", go_broker, topic)
    consumed = report["consumed"]
    assert consumed == report["produced"]
    assert sorted(r["value"] for r in consumed) == sorted(f"v{i}" for i in range(20))
    for offsets in partition_offsets(consumed).values():
        assert offsets == list(range(len(offsets)))
    partition_of: dict[str, int] = {}
    for r in consumed:
        assert partition_of.setdefault(r["key"], r["partition"]) == r["partition"]


def test_debian_sarama_list_offsets_v0(go_broker, topic):
    """ListOffsets v0 answers a time from segment modification times, as Kafka's legacyFetchOffsetsBefore:
    a time after the last write gives the log end offset, a time before the segment was written gives none."""
    _fill_partition_0(go_broker.bootstrap, topic, 10)
    report = _debian("list-offsets", go_broker, topic)
    assert report == {
        "0": {"oldest": 0, "newest": 10, "in_an_hour": 10, "an_hour_ago": NO_OFFSET},
        "1": {"oldest": 0, "newest": 0, "in_an_hour": 0, "an_hour_ago": NO_OFFSET},
    }


def test_debian_sarama_offset_manager_resumes_from_commits(go_broker, topic):
    """OffsetManager: FindCoordinator v0, OffsetFetch v1 and OffsetCommit v1 (Sarama 1.22 at 0.8.2.0)."""
    _fill_partition_0(go_broker.bootstrap, topic, 10)
    report = _debian("offsets-resume", go_broker, topic)
    assert report["first_start"] == -2  # no commit yet (OffsetFetch said -1): Offsets.Initial, OffsetOldest
    assert [(r["offset"], r["value"]) for r in report["first"]] == [(i, f"v{i}") for i in range(4)]
    assert report["second_start"] == 4
    assert [(r["offset"], r["value"]) for r in report["second"]] == [(i, f"v{i}") for i in range(4, 7)]
    assert report["third_start"] == 7


def test_debian_sarama_offset_commit_and_fetch_v0(go_broker, topic):
    """OffsetCommit v0 and OffsetFetch v0 round trip (Kafka 3.x keeps v0 commits apart, in ZooKeeper)."""
    report = _debian("offsets-v0", go_broker, topic)
    before = report["before"]
    assert {p: (b["offset"], b["error"]) for p, b in before.items()} == {"0": (-1, 0), "1": (-1, 0)}
    assert report["commit_errors"] == {"0": 0, "1": 0}
    after = report["after"]
    assert {p: (b["offset"], b["error"]) for p, b in after.items()} == {"0": (5, 0), "1": (2, 0)}
