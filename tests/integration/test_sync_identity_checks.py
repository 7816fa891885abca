"""TopicService.sync runs its topic-id checks (each walks every log) only when the logs, the hosted partitions
or the topic ids changed: one topic's ISR or config changing on a broker with thousands of partitions costs no
walk. The checks still run whenever they have something to find: a new partition gets its partition.metadata,
a replica of a deleted topic is dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from brook.broker.topic_identity import TopicIdentity
from brook.common.types import TopicPartition
from brook.storage.partition_metadata import read_topic_id
from tests.integration.helpers import in_process_broker


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"stale": 0, "unrecorded": 0}
    for name in calls:
        original = getattr(TopicIdentity, name)

        def counted(self: TopicIdentity, *args: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(TopicIdentity, name, counted)
    return calls


async def _scenario(data_dir: Path, calls: dict[str, int]) -> None:
    async with in_process_broker(data_dir) as broker:
        store, topics = broker.metadata, broker.topics
        store.create_topic("a", 3, 1, {})
        topics.sync()
        await asyncio.gather(*list(topics._identity_writes))
        a0 = broker.log_manager.get(TopicPartition("a", 0))
        assert a0 is not None
        assert read_topic_id(a0.directory) == store.topic("a").topic_id

        calls.update(stale=0, unrecorded=0)
        topics.sync()  # the logs the last sync opened are checked once more, as nothing else changed
        assert calls == {"stale": 1, "unrecorded": 0}
        calls.update(stale=0, unrecorded=0)
        topics.sync()  # nothing changed
        store.set_topic_configs("a", {"retention.ms": "1000"})  # a config: no log or id changes
        topics.sync()
        assert calls == {"stale": 0, "unrecorded": 0}
        assert broker.replicas.partitions[TopicPartition("a", 0)].config.retention_ms == 1000

        store.create_topic("b", 1, 1, {})  # ids changed: both checks run, and b's id is recorded
        topics.sync()
        await asyncio.gather(*list(topics._identity_writes))
        assert calls == {"stale": 1, "unrecorded": 1}
        b0 = broker.log_manager.get(TopicPartition("b", 0))
        assert b0 is not None
        assert read_topic_id(b0.directory) == store.topic("b").topic_id

        calls.update(stale=0, unrecorded=0)
        store.delete_topic("b")  # ids changed: checked again, and b's replica is gone
        topics.sync()
        assert calls["stale"] == 1
        assert broker.log_manager.get(TopicPartition("b", 0)) is None
        assert sorted(broker.replicas.partitions) == [TopicPartition("a", p) for p in range(3)]


def test_identity_checks_run_only_when_logs_hosting_or_ids_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch)
    asyncio.run(_scenario(tmp_path, calls))
