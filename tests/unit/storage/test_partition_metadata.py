"""partition.metadata: Kafka's format, and which replica directories belong to a deleted topic."""

import uuid
from pathlib import Path

import pytest

from brook.broker.topic_identity import replicas_of_other_topics
from brook.common.types import TopicPartition
from brook.storage.partition_metadata import read_topic_id, write_topic_id


def test_written_in_kafkas_format_and_read_back(tmp_path: Path) -> None:
    topic_id = uuid.UUID("5b0e6e2a-41f6-4c3e-9a4b-0f0d1c2b3a49")
    write_topic_id(tmp_path, topic_id)
    assert (tmp_path / "partition.metadata").read_text() == "version: 0\ntopic_id: Ww5uKkH2TD6aSw8NHCs6SQ\n"
    assert read_topic_id(tmp_path) == topic_id


def test_a_directory_without_the_file_has_no_topic_id(tmp_path: Path) -> None:
    assert read_topic_id(tmp_path) is None


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "partition.metadata").write_text("version: 1\ntopic_id: Ww5uKkH2TD6aSw8NHCs6SQ\n")
    with pytest.raises(ValueError, match="unsupported"):
        read_topic_id(tmp_path)


def test_replicas_of_deleted_or_recreated_topics_are_stale() -> None:
    old, new = uuid.uuid4(), uuid.uuid4()
    on_disk = {
        TopicPartition("kept", 0): old,
        TopicPartition("recreated", 0): old,
        TopicPartition("deleted", 0): old,
        TopicPartition("legacy", 0): None,  # from before topic ids: kept
        TopicPartition("no-id-topic", 0): old,
    }
    topic_ids = {"kept": old, "recreated": new, "legacy": new, "no-id-topic": uuid.UUID(int=0)}
    assert replicas_of_other_topics(topic_ids, on_disk) == {
        TopicPartition("recreated", 0),
        TopicPartition("deleted", 0),
    }


def test_the_loader_reads_each_directorys_topic_id_so_the_broker_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At start the broker compares every partition directory's topic id with the metadata's; the log loader
    read them as it opened the logs (in its threads, one open and one read each), not the event loop after."""
    from brook.broker import topic_identity
    from brook.common.clock import FakeClock
    from brook.storage import loader, partition_metadata
    from brook.storage.manager import LogManager

    recorded, recreated = uuid.uuid4(), uuid.uuid4()
    clock = FakeClock()
    manager = LogManager([tmp_path], clock)
    for tp in (TopicPartition("kept", 0), TopicPartition("recreated", 0), TopicPartition("legacy", 0)):
        manager.create(tp)
    write_topic_id(tmp_path / "kept-0", recorded)
    write_topic_id(tmp_path / "recreated-0", recorded)
    (tmp_path / "garbled-0").mkdir()
    (tmp_path / "garbled-0" / "partition.metadata").write_bytes(b"\xff\xfe not kafka's")
    manager.close()

    def no_reads(directory: Path) -> None:
        raise AssertionError(f"read {directory} again")

    manager = LogManager([tmp_path], clock)
    manager.load()
    monkeypatch.setattr(loader, "read_topic_id", no_reads)
    monkeypatch.setattr(partition_metadata, "read_topic_id", no_reads)
    ids = {tp.topic: log.load_result.topic_id for tp, log in manager.logs().items()}
    assert ids == {"kept": recorded, "recreated": recorded, "legacy": None, "garbled": None}
    stale = topic_identity.TopicIdentity(manager).stale(
        {"kept": recorded, "recreated": recreated, "legacy": recreated, "garbled": recreated}
    )
    assert stale == {TopicPartition("recreated", 0)}  # no file, or one that cannot be read: kept
    manager.close()
