"""Broker: the one place that builds brook's objects and connects them.

Lifecycle: `Broker(config)` → `await start()` (loads logs, binds the listener, registers) → `await stop()`
(on a cluster first a controlled shutdown: leaderships move to other ISR members; then stops accepting, answers
in-flight requests, flushes, writes the clean-shutdown marker).

Metadata writes (ZooKeeper round trips) run on `metadata_executor`, a thread pool of their own, so a ZooKeeper
outage never ties up the default pool that fsyncs and file work use, and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from brook import __version__
from brook.broker import dynamic_config, handlers
from brook.broker.authorization import build_authorizer
from brook.broker.config import BrokerConfig
from brook.broker.group_service import GroupService
from brook.broker.inter_broker import InterBrokerConnector
from brook.broker.meta_properties import claim_log_dirs
from brook.broker.metrics import MetricsServer
from brook.broker.produce_validation import ProduceValidator
from brook.broker.producer_ids import ProducerIdManager
from brook.broker.quotas import QuotaManager
from brook.broker.replica_manager import ReplicaManager
from brook.broker.security import build_security
from brook.broker.server import Server
from brook.broker.stats import BrokerStats
from brook.broker.topics import TopicService
from brook.broker.txn_service import TransactionService
from brook.common.clock import Clock, SystemClock
from brook.common.errors import OutOfDescriptors
from brook.common.types import TopicPartition
from brook.metadata.api import BrokerInfo, Endpoint, MetadataStore
from brook.metadata.embedded import EmbeddedMetadataStore
from brook.metadata.zookeeper import RebalanceSettings, ZooKeeperMetadataStore
from brook.protocol import codec
from brook.storage.budget import ResourceBudget, count_maps, raise_open_files_limit, read_max_map_count
from brook.storage.manager import LogManager

logger = logging.getLogger(__name__)

__all__ = ["Broker"]

_STOP_STEP_S = 10.0  # the limit of one shutdown step (connections get their own 5 s grace inside it)
_CLOSE_LOGS_S = 30.0  # closing flushes every log: fsyncs on a busy disk


class Broker:
    def __init__(self, config: BrokerConfig, clock: Clock | None = None) -> None:
        handlers.load_all()
        # Schemas are imported on a client's first request of a kind: a descriptor is kept for those imports
        codec.hold_descriptor_for_imports()
        self.config = config
        # listeners, TLS contexts, SASL users: a mistake stops the start here (InvalidConfig)
        self.listeners, self.listener_security, self.inter_broker = build_security(config)
        self.clock = clock or SystemClock()
        self.node_id = config.node_id
        self.stats = BrokerStats()
        self.log_dirs: list[Path] = config.log_dirs
        self.metadata = _build_metadata_store(config, self.log_dirs[0], self.node_id)
        self.metadata_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="metadata")
        self.authorizer = build_authorizer(config, self.metadata, self.log_dirs[0])  # None: no authorization
        self._stopping = False
        self._logs_loaded = False  # abort_start closes (and marks clean) only logs loaded in full
        self._hosting = False  # partitions follow the metadata (after registration, on a cluster)
        # A segment roll's fsync runs on a worker thread (ReplicaManager), not on the event loop.
        self.log_manager = LogManager(
            self.log_dirs,
            self.clock,
            flush_on_roll=False,
            recovery_threads_per_data_dir=config.int("num.recovery.threads.per.data.dir"),
            max_open_inactive_segments=config.int("brook.log.open.inactive.segments.max"),
        )
        self.replicas = ReplicaManager(
            self.node_id,
            self.log_manager,
            self.clock,
            replica_lag_time_max_ms=config.int("replica.lag.time.max.ms"),
            producer_id_expiration_ms=config.int("producer.id.expiration.ms"),
        )
        self.replicas.isr_writer = self._write_isr
        self.replicas.fetchers.connector = InterBrokerConnector(self.inter_broker)
        self.topics = TopicService(config, self.metadata, self.replicas, executor=self.metadata_executor)
        self.produce_validator = ProduceValidator(config.int("brook.batch.max.uncompressed.bytes"))
        self.quotas = QuotaManager(self)
        self.producer_ids = ProducerIdManager(self.metadata, self.metadata_executor)
        self.groups = GroupService(self)
        self.transactions = TransactionService(self)
        self.metadata_responses: dict[Any, tuple[Any, bytes]] = {}  # handlers/metadata.py's cache
        self.server = Server(self)
        self.metrics = MetricsServer(self)
        self._background: list[asyncio.Task[None]] = []

    @property
    def bound_port(self) -> int:
        return self.server.port

    def _take_resource_budget(self) -> ResourceBudget:
        """Raise the soft open-files limit to the hard one and say what it buys (storage/budget.py)."""
        soft, hard = raise_open_files_limit()
        budget = ResourceBudget(
            open_files_limit=soft,
            open_files_hard_limit=hard,
            reserved_files=self.config.int("brook.open.files.reserved"),
            max_open_inactive_segments=self.config.int("brook.log.open.inactive.segments.max"),
            max_map_count=read_max_map_count(),
        )
        self.topics.budget = budget
        return budget

    async def start(self) -> None:
        budget = self._take_resource_budget()
        claim_log_dirs(self.log_dirs, cluster_id=self.metadata.cluster_id, node_id=self.node_id)
        dynamic_config.refresh(self, sync=False)  # dynamic broker configs shape the topic defaults
        topics = self.metadata.topics()
        self.log_manager.load({name: self.topics.log_config(state) for name, state in topics.items()})
        self._logs_loaded = True
        hosted = self.log_manager.open_partitions
        logger.info("resource budget %s", budget.describe(hosted, count_maps()))
        if hosted > budget.max_partitions:
            logger.error(
                "this broker hosts %d partitions, more than its open-files budget of %d: raise the "
                "open-files limit (ulimit -n / LimitNOFILE=)",
                hosted,
                budget.max_partitions,
            )
        # A cluster broker takes no partition role before it is registered: a restarted broker waiting out its
        # previous run's registration must not act on that run's leaderships (clients get retriable errors).
        self._hosting = not isinstance(self.metadata, ZooKeeperMetadataStore)
        if self._hosting:
            self._sync_at_start()  # single node: open every partition before the first client can ask for one
        self.quotas.reload()
        self.metadata.add_listener(self._on_metadata_change)  # another broker changed topics or brokers
        if self.authorizer is not None:  # every ACL loaded before the first client is served
            await asyncio.get_running_loop().run_in_executor(self.metadata_executor, self.authorizer.start)
        await self.server.start([self.listener_security[lst.name] for lst in self.listeners.listeners])
        # waits (off the loop) while a previous run's registration lingers in ZooKeeper: see registration.py
        await asyncio.get_running_loop().run_in_executor(
            self.metadata_executor, self.metadata.register_broker, self._registration()
        )
        if not self._hosting:  # registered: take the partition roles the metadata gives this broker
            self._hosting = True
            self._sync_at_start()
        metrics_port = self.config.int("brook.metrics.port")
        if metrics_port >= 0:
            await self.metrics.start(self.config.get("brook.metrics.host"), metrics_port)
        self._background.append(self.groups.start())
        self._background.append(self.transactions.start())
        self._background.append(asyncio.create_task(self._retention_loop()))
        self._background.append(asyncio.create_task(self._flush_loop()))
        self._background.append(asyncio.create_task(self.replicas.isr_expiration_loop()))
        self._background.append(
            asyncio.create_task(
                self.replicas.producer_expiration_loop(
                    self.config.int("producer.id.expiration.check.interval.ms")
                )
            )
        )
        self._background.append(
            asyncio.create_task(
                self.replicas.high_watermarks.loop(
                    self.config.int("replica.high.watermark.checkpoint.interval.ms")
                )
            )
        )
        self._background.append(asyncio.create_task(self.quotas.refresh_loop()))
        self._sync_at_start()  # now that brokers are known: start fetching the partitions we follow
        logger.info(
            "brook %s ready listeners=%s data=%s node_id=%d cluster_id=%s",
            __version__,
            ",".join(f"{name}:{port}" for name, port in self.server.ports.items()),
            ",".join(str(d) for d in self.log_dirs),
            self.node_id,
            self.metadata.cluster_id,
        )

    def _registration(self) -> BrokerInfo:
        """This broker's advertised endpoints (port 0: the bound port; no host: 127.0.0.1); host/port are
        the inter-broker listener's."""
        endpoints = tuple(
            Endpoint(
                lst.name,
                lst.host or "127.0.0.1",
                lst.port or self.server.ports[lst.name],
                lst.security_protocol,
            )
            for lst in self.listeners.advertised
        )
        inter = next(e for e in endpoints if e.listener_name == self.inter_broker.listener_name)
        return BrokerInfo(self.node_id, inter.host, inter.port, None, endpoints)

    def _sync_at_start(self) -> None:
        """Out of descriptors (the open-files limit was lowered since these partitions were created):
        serve the partitions that could be opened rather than not start at all."""
        try:
            self.topics.sync()
        except OutOfDescriptors as exc:
            logger.error(
                "cannot open every partition: %s; serving %d; raise the open-files limit and restart",
                exc,
                self.log_manager.open_partitions,
            )

    def _on_metadata_change(self) -> None:
        """On the event loop, after the store's cache changed: host or drop partitions to match it."""
        if not self._hosting:
            return
        try:
            dynamic_config.refresh(self, sync=False)  # the sync below applies them
            self.topics.sync(follow=not self._stopping)
        except Exception:
            logger.exception("partition sync after a metadata change failed")

    async def _write_isr(self, tp: TopicPartition, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        """The ISR writer: a compare-and-set in ZooKeeper on the metadata pool; the loop serves on meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(
            self.metadata_executor, self.metadata.update_isr, tp.topic, tp.partition, leader_epoch, isr
        )

    async def _controlled_shutdown(self) -> None:
        """Kafka's controlled shutdown: stop following (so no leader takes this broker back into its ISR), move
        every leadership to another ISR member and leave every ISR, then apply the moves here, so parked
        produce and fetch requests learn at once that this broker no longer leads (clients refresh metadata)."""
        controlled = getattr(self.metadata, "controlled_shutdown", None)
        if controlled is None or not self.config.bool("controlled.shutdown.enable"):
            return
        self._stopping = True
        budget_s = (
            self.config.int("controlled.shutdown.max.retries")
            * self.config.int("controlled.shutdown.retry.backoff.ms")
            / 1000
        )
        await _bounded(self.replicas.fetchers.close(), _STOP_STEP_S, "stopping replica fetchers")
        logger.info("controlled shutdown: fetchers stopped, moving leaderships")
        try:
            still_leading = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self.metadata_executor, controlled, budget_s),
                budget_s + _STOP_STEP_S,
            )
        except TimeoutError:
            logger.warning("controlled shutdown did not finish within %.0fs; shutting down anyway", budget_s)
            return
        except Exception:
            logger.exception("controlled shutdown failed; shutting down anyway")
            return
        self.topics.sync(follow=False)
        if still_leading:
            logger.warning(
                "controlled shutdown left partitions without another ISR member led=%d", still_leading
            )
        else:
            logger.info("controlled shutdown moved every leadership")

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
        """Every step has a time limit (a stuck step is logged and skipped), so SIGTERM always ends the process.

        The durable steps (fetchers stopped, HW checkpoint, flush, logs closed) come before the ZooKeeper
        session ends, which is last: other brokers see this one leave only once its logs are safe."""
        logger.info("shutting down")
        self._stopping = True  # from here no metadata change starts a fetcher
        await self._controlled_shutdown()
        self.groups.shutdown()
        self.transactions.shutdown()
        await _bounded(self.server.stop(), _STOP_STEP_S, "closing client connections")
        await _bounded(self.metrics.stop(), _STOP_STEP_S, "closing the metrics listener")
        await self._cancel_background()
        await _bounded(self.replicas.fetchers.close(), _STOP_STEP_S, "stopping replica fetchers")
        # the final HWs, before the logs close
        await _bounded(self.replicas.high_watermarks.write(), _STOP_STEP_S, "high watermark checkpoint")
        await _bounded(self.replicas.wait_for_flushes(), _STOP_STEP_S, "pending flushes")
        self.replicas.close()
        await asyncio.to_thread(self.replicas.write_producer_snapshots)  # before the logs close and sync
        self.produce_validator.close()
        closed_logs = await _bounded(asyncio.to_thread(self.log_manager.close), _CLOSE_LOGS_S, "closing logs")
        await self._close_metadata()  # ZooKeeper: ends the session, drops /brokers/ids/<id>
        if closed_logs:
            logger.info("shut down cleanly")
        else:
            logger.warning("shut down; the logs were not closed in time (the next start recovers them)")

    async def abort_start(self) -> None:
        """After a failed (or abandoned) `start()`: release what it took, each step with a time limit, so the
        process can exit at once. The ZooKeeper session ends here (never left behind holding
        /brokers/ids/<id> or /controller). Logs are closed only if they were loaded in full: closing writes
        the clean-shutdown marker, which must not vouch for logs that were never loaded or recovered."""
        self._stopping = True
        self.groups.shutdown()
        self.transactions.shutdown()
        await _bounded(self.server.stop(), _STOP_STEP_S, "closing the listener")
        await _bounded(self.metrics.stop(), _STOP_STEP_S, "closing the metrics listener")
        await self._cancel_background()
        await _bounded(self.replicas.fetchers.close(), _STOP_STEP_S, "stopping replica fetchers")
        self.produce_validator.close()
        await self._close_metadata()
        if self._logs_loaded:
            await _bounded(asyncio.to_thread(self.log_manager.close), _CLOSE_LOGS_S, "closing logs")
        logger.info("start abandoned; resources released")

    async def _cancel_background(self) -> None:
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background, timeout=_STOP_STEP_S)

    async def _close_metadata(self) -> None:
        """End the store (the ZooKeeper session and its threads) on a daemon thread of its own, waited for a
        bounded time: the pools may be busy with calls that a dead ZooKeeper keeps waiting."""
        done = asyncio.get_running_loop().create_future()

        def close() -> None:
            try:
                if self.authorizer is not None:
                    self.authorizer.close()  # its watches end with the session
                self.metadata.close()
            except Exception:
                logger.exception("closing the metadata store failed")
            finally:
                done.get_loop().call_soon_threadsafe(_resolve, done)

        threading.Thread(target=close, name="metadata-close", daemon=True).start()
        await _bounded(done, _STOP_STEP_S, "closing the zookeeper session")
        self.metadata_executor.shutdown(wait=False, cancel_futures=True)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _bounded(step: Awaitable[Any], timeout_s: float, what: str) -> bool:
    """Await one shutdown step for at most `timeout_s`; log and go on if it fails or overruns."""
    try:
        await asyncio.wait_for(step, timeout_s)
        return True
    except TimeoutError:
        logger.warning("shutdown step timed out after %.0fs, skipped: %s", timeout_s, what)
    except Exception:
        logger.exception("shutdown step failed: %s", what)
    return False


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
        unclean_leader_election_enable=config.bool("unclean.leader.election.enable"),
        rebalance=RebalanceSettings(
            enable=config.bool("auto.leader.rebalance.enable"),
            check_interval_ms=config.int("leader.imbalance.check.interval.seconds") * 1000,
            imbalance_percentage=config.int("leader.imbalance.per.broker.percentage"),
        ),
    )
