"""A partition whose topic is deleted is freed by reference counting, not left to the garbage collector: the
broker freezes its start-up objects out of collection (serve.py), so a reference cycle through a partition hosted
since start-up would keep it, its log and its segments in memory for the rest of the process."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from brook.common.types import TopicPartition
from tests.integration.helpers import in_process_broker


async def _scenario(data_dir: Path) -> list[bool]:
    async with in_process_broker(data_dir) as broker:
        store, topics = broker.metadata, broker.topics
        store.create_topic("gone", 2, 1, {})
        topics.sync()
        await asyncio.gather(*list(topics._identity_writes))
        partition = broker.replicas.partitions[TopicPartition("gone", 0)]
        refs = [weakref.ref(partition), weakref.ref(partition.log), weakref.ref(partition.log.active_segment)]
        del partition
        gc.collect()
        gc.freeze()  # as serve.py does once the broker is up: these objects are never collected now
        try:
            store.delete_topic("gone")
            topics.sync()
            await asyncio.gather(*list(topics._identity_writes))
            return [ref() is not None for ref in refs]  # freed at once, not at the next metadata change
        finally:
            gc.unfreeze()


def test_a_deleted_topics_partition_log_and_segment_are_freed_without_a_collection(tmp_path: Path) -> None:
    assert asyncio.run(_scenario(tmp_path)) == [False, False, False]
