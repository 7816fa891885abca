"""Broker: the one place that builds brook's objects and connects them.

Lifecycle: `Broker(config)` → `await start()` (loads logs, binds the listener) → `await stop()`
(stops accepting, answers in-flight requests, flushes, writes the clean-shutdown marker).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from brook import __version__
from brook.broker import handlers
from brook.broker.config import BrokerConfig
from brook.broker.producer_ids import ProducerIdManager
from brook.broker.replica_manager import ReplicaManager
from brook.broker.server import Server
from brook.broker.stats import BrokerStats
from brook.broker.topics import TopicService
from brook.common.clock import Clock, SystemClock
from brook.metadata.api import BrokerInfo
from brook.metadata.embedded import EmbeddedMetadataStore
from brook.storage.manager import LogManager

logger = logging.getLogger(__name__)

__all__ = ["Broker"]


class Broker:
    def __init__(self, config: BrokerConfig, clock: Clock | None = None) -> None:
        handlers.load_all()
        self.config = config
        self.clock = clock or SystemClock()
        self.node_id = config.node_id
        self.stats = BrokerStats()
        self.log_dirs: list[Path] = config.log_dirs
        self.metadata = EmbeddedMetadataStore(self.log_dirs[0], self.node_id)
        # A segment roll's fsync runs on a worker thread (ReplicaManager), not on the event loop.
        self.log_manager = LogManager(self.log_dirs, self.clock, flush_on_roll=False)
        self.replicas = ReplicaManager(self.node_id, self.log_manager, self.clock)
        self.topics = TopicService(config, self.metadata, self.replicas)
        self.producer_ids = ProducerIdManager(self.metadata)
        self.metadata_responses: dict[Any, tuple[Any, bytes]] = {}  # handlers/metadata.py's cache
        self.server = Server(self)
        self._background: list[asyncio.Task[None]] = []

    @property
    def bound_port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        topics = self.metadata.topics()
        self.log_manager.load({name: self.topics.log_config(state) for name, state in topics.items()})
        host, port = self.config.listener
        await self.server.start(host, port)
        adv_host, adv_port = self.config.advertised_listener
        self.metadata.register_broker(BrokerInfo(self.node_id, adv_host, adv_port or self.server.port))
        self.topics.sync()
        self._background.append(asyncio.create_task(self._retention_loop()))
        logger.info(
            "brook %s ready listener=%s:%d data=%s node_id=%d cluster_id=%s",
            __version__,
            host,
            self.server.port,
            ",".join(str(d) for d in self.log_dirs),
            self.node_id,
            self.metadata.cluster_id,
        )

    async def _retention_loop(self) -> None:
        interval_s = self.config.int("log.retention.check.interval.ms") / 1000
        while True:
            await asyncio.sleep(interval_s)
            try:
                deleted = self.log_manager.run_retention(self.clock.now_ms())
                if deleted:
                    logger.info("retention deleted segments=%d", deleted)
                self.log_manager.run_compaction(self.clock.now_ms())
                await asyncio.to_thread(self.log_manager.checkpoint)
            except Exception:
                logger.exception("retention pass failed")

    async def stop(self) -> None:
        logger.info("shutting down")
        await self.server.stop()
        for task in self._background:
            task.cancel()
        await self.replicas.wait_for_flushes()
        self.replicas.close()
        await asyncio.to_thread(self.log_manager.close)
        logger.info("shut down cleanly")
