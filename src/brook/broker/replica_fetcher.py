"""Replica fetchers: for each leader this broker follows partitions of, one task fetching them all.

Each task holds one connection to its leader and sends Fetch v12 with `replica_id` = this broker's id
(so the leader reads past its HW and counts the fetch offset as our log end offset). What the answer
means (append, follow the HW, truncate, retry) is decided by `Partition.handle_fetch_response` in
brook.replication; this module only moves requests and bytes, reconnecting with a backoff.

One partition's trouble never stops the others (Kafka's delayed/failed partitions): a partition whose
answer is an error, or whose records cannot be appended, is logged and left out of the fetches for a
backoff (doubling from replica.fetch.backoff.ms up to a cap) while the rest keep replicating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.metadata.api import BrokerInfo
from brook.protocol.client import decode_response, encode_request
from brook.replication.partition import FollowerFetchOutcome

if TYPE_CHECKING:
    from brook.broker.inter_broker import InterBrokerConnector
    from brook.broker.replica_manager import ReplicaManager

logger = logging.getLogger(__name__)

__all__ = ["ReplicaFetcher", "ReplicaFetcherManager"]

FETCH_KEY = 1
FETCH_VERSION = 12
_MAX_WAIT_MS = 500
_PARTITION_MAX_BYTES = 1024 * 1024
_MAX_BYTES = 10 * 1024 * 1024
_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 1.0
_REQUEST_TIMEOUT_S = 10.0
_PARTITION_BACKOFF_S = 1.0  # Kafka's replica.fetch.backoff.ms
_MAX_PARTITION_BACKOFF_S = 10.0


class ReplicaFetcher:
    """Fetches one leader's partitions for this broker. Owned by its manager; runs as one asyncio task."""

    def __init__(self, replicas: ReplicaManager, leader: BrokerInfo) -> None:
        self._replicas = replicas
        self.leader = leader
        self.partitions: set[TopicPartition] = set()
        # partitions left out after an error, until a loop time or a new leader epoch:
        # tp -> (retry at, backoff used, leader epoch of the failed fetch)
        self.delayed: dict[TopicPartition, tuple[float, float, int]] = {}
        self._correlation_id = 0
        self._rotation = 0
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def set_partitions(self, tps: set[TopicPartition]) -> None:
        if tps != self.partitions or self.delayed:
            # (with delayed partitions: a metadata change may have given one a new epoch to try now)
            self.partitions = tps
            self.delayed = {tp: d for tp, d in self.delayed.items() if tp in tps}
            self._changed.set()

    async def stop(self) -> None:
        # Cancel until it ends: on Python 3.11 asyncio.wait_for swallows a cancellation that arrives as its
        # inner await completes (a fetch response landing at that moment), and the loop would run on.
        while not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=0.1)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        backoff = _BACKOFF_S
        while True:
            writer: asyncio.StreamWriter | None = None
            try:
                reader, connected = await asyncio.wait_for(self._open(), _REQUEST_TIMEOUT_S)
                writer = connected
                logger.info("replica fetcher connected leader=%d", self.leader.node_id)
                while True:
                    if not await self._fetch_once(reader, connected):
                        await self._idle(self._idle_time(backoff))
                        backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    else:
                        backoff = _BACKOFF_S
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                logger.info("replica fetcher leader=%d connection failed: %s", self.leader.node_id, exc)
            except Exception:
                logger.exception("replica fetcher leader=%d failed", self.leader.node_id)
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """To the leader's inter-broker listener, with its TLS and SASL (broker/inter_broker.py)."""
        connector = self._replicas.fetchers.connector
        if connector is None:
            return await asyncio.open_connection(self.leader.host, self.leader.port)
        return await connector.open(self.leader)

    def _idle_time(self, backoff_s: float) -> float:
        """How long to wait with nothing to fetch: the backoff, or less if a delayed partition is due."""
        now = asyncio.get_running_loop().time()
        due = [at - now for at, _, _ in self.delayed.values() if at > now]
        return min(backoff_s, *due) if due else backoff_s

    def _delay(self, tp: TopicPartition, epoch: int, *, double: bool) -> None:
        """Leave `tp` out for a while: replica.fetch.backoff.ms, doubling (to a cap) while it keeps
        failing with an exception; a new leader epoch ends the delay at once."""
        previous = self.delayed.get(tp)
        backoff = _PARTITION_BACKOFF_S
        if double and previous is not None and previous[2] == epoch:
            backoff = min(previous[1] * 2, _MAX_PARTITION_BACKOFF_S)
        self.delayed[tp] = (asyncio.get_running_loop().time() + backoff, backoff, epoch)

    async def _idle(self, timeout_s: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    async def _fetch_once(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One Fetch round trip; False when there was nothing to fetch (all partitions delayed)."""
        asked: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (leader epoch, fetch offset) asked in
        topics: dict[str, list[dict[str, Any]]] = {}
        now = asyncio.get_running_loop().time()
        # The leader fills its byte budget in request order: start each fetch one partition further on,
        # so a few busy partitions cannot starve the rest (Kafka moves fetched partitions to the end).
        ordered = sorted(self.partitions)
        self._rotation = (self._rotation + 1) % max(len(ordered), 1)
        quota = self._replicas.follower_quota
        over_quota = quota.active and quota.exceeded(self._replicas.clock.now_ms())
        for tp in ordered[self._rotation :] + ordered[: self._rotation]:
            partition = self._replicas.partitions.get(tp)
            if partition is None or partition.is_leader or partition.leader != self.leader.node_id:
                continue
            delayed = self.delayed.get(tp)
            if delayed is not None and delayed[0] > now and delayed[2] == partition.leader_epoch:
                continue
            if partition.log.is_offline:
                continue  # its log dir failed: nothing to append to until a restart
            if over_quota and self._replicas.follower_throttled(partition):
                continue  # replication throttle (replication_quota.py): asked again once under the bound
            try:
                fetch_offset = partition.fetch_offset_as_follower
                entry = {
                    "partition": tp.partition,
                    "current_leader_epoch": partition.leader_epoch,
                    "fetch_offset": fetch_offset,
                    "last_fetched_epoch": partition.last_fetched_epoch,
                    "log_start_offset": partition.log.log_start_offset,
                    "partition_max_bytes": _PARTITION_MAX_BYTES,
                }
            except Exception as exc:  # noqa: BLE001 - this partition only: logged, retried later
                self._delay(tp, partition.leader_epoch, double=True)
                logger.error("replica fetch tp=%s cannot be asked for: %r", tp, exc)
                continue
            asked[tp] = (partition.leader_epoch, fetch_offset)
            topics.setdefault(tp.topic, []).append(entry)
        if not topics:
            return False
        self._correlation_id += 1
        body = {
            "replica_id": self._replicas.node_id,
            "max_wait": _MAX_WAIT_MS,
            "min_bytes": 1,
            "max_bytes": _MAX_BYTES,
            "isolation_level": 0,
            "session_id": 0,
            "session_epoch": -1,
            "topics": [{"topic": t, "partitions": ps} for t, ps in topics.items()],
            "forgotten_topics_data": [],
            "rack_id": "",
        }
        writer.write(
            encode_request(FETCH_KEY, FETCH_VERSION, self._correlation_id, "brook-replica-fetcher", body)
        )
        await writer.drain()
        size_bytes = await asyncio.wait_for(reader.readexactly(4), _REQUEST_TIMEOUT_S)
        (size,) = struct.unpack(">i", size_bytes)
        frame = await asyncio.wait_for(reader.readexactly(size), _REQUEST_TIMEOUT_S)
        correlation_id, response = decode_response(FETCH_KEY, FETCH_VERSION, frame)
        if correlation_id != self._correlation_id:
            raise OSError(f"correlation id {correlation_id} != {self._correlation_id}")
        return self._handle_response(response, asked)

    def _handle_response(self, response: Any, asked: Mapping[TopicPartition, tuple[int, int]]) -> bool:
        """Apply each partition's answer (the leader long-polled, so fetch again at once)."""
        for topic in response.responses:
            for p in topic.partitions:
                tp = TopicPartition(topic.topic, p.partition_index)
                if tp not in asked:
                    continue
                epoch, fetch_offset = asked[tp]
                code = ErrorCode(p.error_code)
                diverging = p.diverging_epoch
                try:
                    outcome = self._replicas.handle_fetch_response(
                        tp,
                        epoch,
                        fetch_offset,
                        code,
                        leader_high_watermark=p.high_watermark,
                        leader_log_start_offset=p.log_start_offset,
                        diverging_epoch=(
                            (diverging.epoch, diverging.end_offset)
                            if diverging is not None and diverging.epoch >= 0
                            else None
                        ),
                        records=bytes(p.records or b""),
                    )
                except Exception as exc:  # noqa: BLE001 - this partition only: logged, retried later
                    self._delay(tp, epoch, double=True)
                    logger.error(
                        "replica fetch tp=%s from leader=%d failed, retrying in %.1fs: %r",
                        tp, self.leader.node_id, self.delayed[tp][1], exc,
                    )  # fmt: skip
                    continue
                if outcome is FollowerFetchOutcome.RETRY:
                    self._delay(tp, epoch, double=False)
                    logger.info(
                        "replica fetch tp=%s from leader=%d: %s, retrying in %.1fs",
                        tp, self.leader.node_id, code.name, self.delayed[tp][1],
                    )  # fmt: skip
                elif outcome is not FollowerFetchOutcome.STALE:
                    self.delayed.pop(tp, None)
                    if outcome is FollowerFetchOutcome.APPENDED and p.records:
                        self._replicas.replication_bytes_in += len(p.records)
                        if self._replicas.follower_quota.is_throttled(tp):
                            self._replicas.follower_quota.record(
                                len(p.records), self._replicas.clock.now_ms()
                            )
        return True


class ReplicaFetcherManager:
    """One `ReplicaFetcher` per leader; `reconcile` is called after each metadata change (event loop)."""

    def __init__(self, replicas: ReplicaManager) -> None:
        self._replicas = replicas
        self._fetchers: dict[int, ReplicaFetcher] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False
        self.connector: InterBrokerConnector | None = None  # set by the Broker (inter-broker listener)

    def reconcile(self, leaders: Mapping[TopicPartition, int], brokers: Mapping[int, BrokerInfo]) -> None:
        if self._closed:
            return  # the broker is shutting down: no fetcher starts again (Kafka stops them for good too)
        wanted: dict[int, set[TopicPartition]] = {}
        for tp, leader in leaders.items():
            if leader in brokers:
                wanted.setdefault(leader, set()).add(tp)
        for leader_id, fetcher in list(self._fetchers.items()):
            if leader_id not in wanted or brokers[leader_id] != fetcher.leader:
                del self._fetchers[leader_id]
                self._stop_later(fetcher)
        for leader_id, tps in wanted.items():
            existing = self._fetchers.get(leader_id)
            if existing is None:
                existing = self._fetchers[leader_id] = ReplicaFetcher(self._replicas, brokers[leader_id])
                logger.info("started replica fetcher leader=%d partitions=%d", leader_id, len(tps))
            existing.set_partitions(tps)

    def _stop_later(self, fetcher: ReplicaFetcher) -> None:
        task = asyncio.get_running_loop().create_task(fetcher.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Stop every fetcher, for good: `reconcile` starts none after this."""
        self._closed = True
        fetchers = list(self._fetchers.values())
        self._fetchers.clear()
        await asyncio.gather(*(f.stop() for f in fetchers), *self._stopping, return_exceptions=True)
