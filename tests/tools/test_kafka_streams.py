"""Kafka Streams (Kafka 4.3's kafka-streams) against a real `brook serve`: the word count in tests/kafka-tools, with
a repartition topic, a persistent state store and its changelog, at-least-once; correct across a restart that
rebuilds the store from the changelog."""

from __future__ import annotations

import re
import struct
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from brook.testing import BrookProcess
from tests.tools.kafka_tools import JavaProcess, run_tool, wait_until

pytestmark = pytest.mark.slow

_APP = "wordcount"
_FIRST = ["the quick brown fox", "jumps over the lazy dog", "The dog barks", "quick quick QUICK"]
_SECOND = ["a fox and a dog", "the end"]


def _words(lines: list[str]) -> Counter[str]:
    return Counter(word for line in lines for word in re.split(r"\W+", line.lower()) if word)


class _Counts:
    """The latest count per word on the output topic (the word count's changelog stream)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.latest: dict[str, int] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "count-reader",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe([topic])

    def reach(self, expected: Counter[str], timeout_s: float, app: JavaProcess) -> None:
        def caught_up() -> bool:
            for msg in self.consumer.consume(100, timeout=0.5):
                assert msg.error() is None, msg.error()
                (count,) = struct.unpack(">q", msg.value())
                self.latest[msg.key().decode()] = count
            return self.latest == dict(expected)

        wait_until(caught_up, timeout_s, f"counts {dict(expected)}; have {self.latest}:\n{app.tail()}")

    def close(self) -> None:
        self.consumer.close()


def _produce(bootstrap: str, lines: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i, line in enumerate(lines):
        producer.produce("text", line.encode(), f"line-{i}".encode(), partition=i % 2)
    assert producer.flush(30) == 0


def _start(bootstrap: str, state_dir: Path) -> JavaProcess:
    app = JavaProcess("word-count", bootstrap, _APP, "text", "word-counts", str(state_dir), "at_least_once")
    app.wait_for_line(r"^STATE RUNNING$", 120)
    return app


def test_streams_word_count_with_state_store_changelog_and_repartition(
    kafka_broker: BrookProcess, tmp_path: Path
) -> None:
    b = kafka_broker.bootstrap
    admin = AdminClient({"bootstrap.servers": b})
    for future in admin.create_topics([NewTopic("text", 2, 1), NewTopic("word-counts", 2, 1)]).values():
        future.result(30)
    _produce(b, _FIRST)
    counts = _Counts(b, "word-counts")
    try:
        with _start(b, tmp_path / "state-1") as app:
            counts.reach(_words(_FIRST), 90, app)
            assert app.stop() in (0, 130, 143)
            assert not app.lines_matching(r"\bERROR\b"), app.tail()

        # Streams made its internal topics in brook: a repartition topic for the words and the store's changelog.
        repartition, changelog = f"{_APP}-words-repartition", f"{_APP}-counts-changelog"
        topics = admin.list_topics(timeout=10).topics
        assert len(topics[repartition].partitions) == 2
        assert len(topics[changelog].partitions) == 2
        configs = {
            name: future.result(10)
            for name, future in admin.describe_configs(
                [ConfigResource("topic", repartition), ConfigResource("topic", changelog)]
            ).items()
        }
        by_topic = {resource.name: entries for resource, entries in configs.items()}
        assert by_topic[changelog]["cleanup.policy"].value == "compact"
        assert by_topic[repartition]["cleanup.policy"].value == "delete"
        assert by_topic[repartition]["retention.ms"].value == "-1"

        # The group's committed positions cover all the input it consumed.
        checker = Consumer({"bootstrap.servers": b, "group.id": _APP})
        try:
            committed = checker.committed([TopicPartition("text", p) for p in range(2)], timeout=10)
            ends = [checker.get_watermark_offsets(TopicPartition("text", p), timeout=10)[1] for p in range(2)]
        finally:
            checker.close()
        assert [tp.offset for tp in committed] == ends
        assert ends == [2, 2]

        # A restart on an empty state dir rebuilds the store from its changelog; new lines count on top.
        _produce(b, _SECOND)
        with _start(b, tmp_path / "state-2") as app:
            counts.reach(_words(_FIRST + _SECOND), 90, app)
            assert app.lines_matching(r"Restoration|restor"), app.tail()
            # Streams purges what it consumed from the repartition topic (DeleteRecords).
            wait_until(
                lambda: all(
                    admin_low(b, repartition, p) > 0 for p in range(2) if admin_high(b, repartition, p) > 0
                ),
                30,
                f"the repartition topic to be purged:\n{app.tail()}",
            )
            assert not app.lines_matching(r"\bERROR\b"), app.tail()
    finally:
        counts.close()

    # kafka-streams-application-reset: the app's input offsets back to the start, its internal topics deleted.
    reset = run_tool(
        "kafka-streams-application-reset", "--bootstrap-server", b, "--application-id", _APP,
        "--input-topics", "text", "--to-earliest",
    )  # fmt: skip
    assert "Topic: text Partition: 0 Offset: 0" in reset.lines
    assert "Topic: text Partition: 1 Offset: 0" in reset.lines
    assert f"Deleting inferred internal topics [{repartition}, {changelog}]" in reset.lines
    wait_until(
        lambda: not {repartition, changelog} & set(admin.list_topics(timeout=10).topics),
        30,
        "the internal topics to be deleted",
    )
    checker = Consumer({"bootstrap.servers": b, "group.id": _APP})
    try:
        committed = checker.committed([TopicPartition("text", p) for p in range(2)], timeout=10)
    finally:
        checker.close()
    assert [tp.offset for tp in committed] == [0, 0]


def _watermarks(bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        return int(low), int(high)
    finally:
        consumer.close()


def admin_low(bootstrap: str, topic: str, partition: int) -> int:
    return _watermarks(bootstrap, topic, partition)[0]


def admin_high(bootstrap: str, topic: str, partition: int) -> int:
    return _watermarks(bootstrap, topic, partition)[1]
