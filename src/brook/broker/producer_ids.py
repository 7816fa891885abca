"""Producer id allocation: blocks reserved in the metadata store, so ids never repeat across restarts.

A block is reserved on a worker thread (a ZooKeeper compare-and-set), one reservation at a time."""

import asyncio
from concurrent.futures import Executor

from brook.metadata.api import MetadataStore

BLOCK_SIZE = 1000


class ProducerIdManager:
    def __init__(self, metadata: MetadataStore, executor: Executor | None = None) -> None:
        self._metadata = metadata
        self._executor = (
            executor  # the broker's metadata pool: a ZooKeeper outage never ties up the default one
        )
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def next_id(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                loop = asyncio.get_running_loop()
                allocate = self._metadata.allocate_producer_ids
                self._next = await loop.run_in_executor(self._executor, allocate, BLOCK_SIZE)
                self._end = self._next + BLOCK_SIZE
            producer_id = self._next
            self._next += 1
            return producer_id
