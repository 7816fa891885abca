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
from brook.broker.group_service import GroupService
from brook.broker.meta_properties import claim_log_dirs
from brook.broker.metrics import MetricsServer
from brook.broker.producer_ids import ProducerIdManager
from brook.broker.replica_manager import ReplicaManager
from brook.broker.server import Server
from brook.broker.stats import BrokerStats
from brook.broker.topics import TopicService
from brook.common.clock import Clock, SystemClock
from brook.common.types import TopicPartition
from brook.metadata.api import BrokerInfo, MetadataStore
from brook.metadata.embedded import EmbeddedMetadataStore
from brook.metadata.zookeeper import ZooKeeperMetadataStore
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
        self.metadata = _build_metadata_store(config, self.log_dirs[0], self.node_id)
        # A segment roll's fsync runs on a worker thread (ReplicaManager), not on the event loop.
        self.log_manager = LogManager(self.log_dirs, self.clock, flush_on_roll=False)
        self.replicas = ReplicaManager(
            self.node_id,
            self.log_manager,
            self.clock,
            replica_lag_time_max_ms=config.int("replica.lag.time.max.ms"),
        )
        self.replicas.isr_writer = self._write_isr
        self.topics = TopicService(config, self.metadata, self.replicas)
        self.producer_ids = ProducerIdManager(self.metadata)
        self.groups = GroupService(self)
        self.metadata_responses: dict[Any, tuple[Any, bytes]] = {}  # handlers/metadata.py's cache
        self.server = Server(self)
        self.metrics = MetricsServer(self)
        self._background: list[asyncio.Task[None]] = []

    @property
    def bound_port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        claim_log_dirs(self.log_dirs, cluster_id=self.metadata.cluster_id, node_id=self.node_id)
        topics = self.metadata.topics()
        self.log_manager.load({name: self.topics.log_config(state) for name, state in topics.items()})
        self.topics.sync()  # open every partition before the first client can ask for one
        self.metadata.add_listener(self._on_metadata_change)  # another broker changed topics or brokers
        host, port = self.config.listener
        await self.server.start(host, port)
        adv_host, adv_port = self.config.advertised_listener
        self.metadata.register_broker(BrokerInfo(self.node_id, adv_host, adv_port or self.server.port))
        metrics_port = self.config.int("brook.metrics.port")
        if metrics_port >= 0:
            await self.metrics.start(self.config.get("brook.metrics.host"), metrics_port)
        self._background.append(self.groups.start())
        self._background.append(asyncio.create_task(self._retention_loop()))
        self._background.append(asyncio.create_task(self._flush_loop()))
        self._background.append(asyncio.create_task(self.replicas.isr_expiration_loop()))
        self.topics.sync()  # now that brokers are known: start fetching the partitions we follow
        logger.info(
            "brook %s ready listener=%s:%d data=%s node_id=%d cluster_id=%s",
            __version__,
            host,
            self.server.port,
            ",".join(str(d) for d in self.log_dirs),
            self.node_id,
            self.metadata.cluster_id,
        )

    def _on_metadata_change(self) -> None:
        """On the event loop, after the store's cache changed: host or drop partitions to match it."""
        try:
            self.topics.sync()
        except Exception:
            logger.exception("partition sync after a metadata change failed")

    def _write_isr(self, tp: TopicPartition, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        return self.metadata.update_isr(tp.topic, tp.partition, leader_epoch, isr)

    async def _retention_loop(self) -> None:
        """log.retention.check.interval.ms: delete expired segments, compact, checkpoint."""
        interval_s = self.config.int("log.retention.check.interval.ms") / 1000
        while True:
            await asyncio.sleep(interval_s)
            try:
                deleted = self.log_manager.run_retention(self.clock.now_ms())
                if deleted:
                    logger.info("retention deleted segments=%d", deleted)
                if self.config.bool("log.cleaner.enable"):
                    self.log_manager.run_compaction(self.clock.now_ms())
            except Exception:
                logger.exception("retention pass failed")

    async def _flush_loop(self) -> None:
        """flush.ms / flush.messages and the offset checkpoints; fsync runs off the event loop."""
        checkpoint_interval_ms = self.config.int("log.flush.offset.checkpoint.interval.ms")
        last_checkpoint_ms = self.clock.monotonic_ms()
        while True:
            await asyncio.sleep(1.0)
            try:
                await asyncio.to_thread(self.log_manager.flush_dirty, self.clock.now_ms())
                if self.clock.monotonic_ms() - last_checkpoint_ms >= checkpoint_interval_ms:
                    last_checkpoint_ms = self.clock.monotonic_ms()
                    await asyncio.to_thread(self.log_manager.checkpoint)
            except Exception:
                logger.exception("flush pass failed")

    async def stop(self) -> None:
        logger.info("shutting down")
        self.groups.shutdown()
        await self.server.stop()
        await self.metrics.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.replicas.fetchers.close()
        await self.replicas.wait_for_flushes()
        self.replicas.close()
        await asyncio.to_thread(self.log_manager.close)
        await asyncio.to_thread(self.metadata.close)  # ZooKeeper: ends the session, drops /brokers/ids/<id>
        logger.info("shut down cleanly")


def _build_metadata_store(config: BrokerConfig, data_dir: Path, node_id: int) -> MetadataStore:
    """`zookeeper.connect` set: Kafka's layout in ZooKeeper (clusters); empty: a file in the data dir."""
    connect = config.get("zookeeper.connect")
    if not connect:
        return EmbeddedMetadataStore(data_dir, node_id)
    return ZooKeeperMetadataStore(
        connect,
        node_id,
        session_timeout_ms=config.int("zookeeper.session.timeout.ms"),
        connection_timeout_ms=config.int("zookeeper.connection.timeout.ms"),
    )
