"""Sends the transaction coordinator's commit/abort markers: WriteTxnMarkers (key 27) to the leader of every
partition of a transaction (the partitions this broker leads get theirs written here directly, as the request
would: txn_marker_writer.py), retrying until each partition has its marker, its topic is gone, or this broker
no longer coordinates the transaction.

Kafka's TransactionMarkerChannelManager rules for a partition's answer: NONE is done; a leader move, a full
ISR wait or a timeout is retried (with the leader looked up again); INVALID_PRODUCER_EPOCH or
TRANSACTION_COORDINATOR_FENCED mean a newer coordinator took over: this one stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from brook.broker.broker_client import BrokerClient
from brook.broker.inter_broker import InterBrokerConnector
from brook.broker.txn_marker_writer import MarkerWrite, write_markers
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import OFFSETS_TOPIC
from brook.coordinator.transaction import TxnMarkers

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["TxnMarkerSender"]

WRITE_TXN_MARKERS_KEY = 27
WRITE_TXN_MARKERS_VERSION = 1
_REQUEST_TIMEOUT_S = 30.0
_BACKOFF_S = 0.05
_MAX_BACKOFF_S = 1.0
_STOP = {ErrorCode.invalid_producer_epoch, ErrorCode.transaction_coordinator_fenced}
_SKIP = {ErrorCode.unsupported_for_message_format, ErrorCode.unsupported_version}


class TxnMarkerSender:
    def __init__(self, broker: Broker, still_coordinator: Callable[[str, int], bool]) -> None:
        self._broker = broker
        self._still_coordinator = still_coordinator  # (transactional_id, coordinator_epoch) -> bool
        # over the inter-broker listener with its TLS and SASL, as the replica fetchers
        self._client = BrokerClient(
            f"brook-txn-coordinator-{broker.node_id}", InterBrokerConnector(broker.inter_broker).open
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._queues: dict[
            int, list[tuple[dict[str, Any], asyncio.Future[dict[TopicPartition, ErrorCode]]]]
        ] = {}
        self._drains: dict[int, asyncio.Task[None]] = {}

    def send_markers(self, markers: TxnMarkers, on_written: Callable[[], None]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(markers, on_written))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, markers: TxnMarkers, on_written: Callable[[], None]) -> None:
        remaining = set(markers.partitions)
        backoff = _BACKOFF_S
        attempts = 0
        while remaining:
            if not self._still_coordinator(markers.transactional_id, markers.coordinator_epoch):
                logger.info(
                    "stopped sending markers of transactional_id=%s: no longer its coordinator",
                    markers.transactional_id,
                )
                return
            by_leader = self._by_leader(remaining)
            if len(by_leader) == 1:  # the usual case (one broker leads them all): no task per leader
                [(leader, tps)] = by_leader.items()
                results = [await self._send(leader, tps, markers)]
            else:
                results = await asyncio.gather(
                    *(self._send(leader, tps, markers) for leader, tps in by_leader.items())
                )
            for codes in results:
                for tp, code in codes.items():
                    if code == ErrorCode.none or code in _SKIP:
                        remaining.discard(tp)
                    elif code in _STOP:
                        logger.warning(
                            "marker for transactional_id=%s tp=%s refused (%s): a newer coordinator took over",
                            markers.transactional_id,
                            tp,
                            code.name,
                        )
                        return
            if remaining:
                attempts += 1
                if attempts % 50 == 0:
                    logger.warning(
                        "markers of transactional_id=%s still not written to %s after %d attempts",
                        markers.transactional_id,
                        sorted(remaining),
                        attempts,
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
        on_written()

    def _by_leader(self, remaining: set[TopicPartition]) -> dict[int, list[TopicPartition]]:
        """Group by the leader the metadata names; a partition whose topic is gone needs no marker."""
        metadata = self._broker.metadata
        by_leader: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in sorted(remaining):
            state = metadata.topic(tp.topic)
            if state is None and tp.topic == OFFSETS_TOPIC:
                continue  # AddOffsetsToTxn named it before the topic existed: it is being created
            if state is None or tp.partition not in state.partitions:
                logger.info("no marker for tp=%s: the partition no longer exists", tp)
                remaining.discard(tp)
                continue
            leader = state.partitions[tp.partition].leader
            if leader >= 0:
                by_leader[leader].append(tp)
        return by_leader

    async def _send(
        self, leader: int, tps: list[TopicPartition], markers: TxnMarkers
    ) -> dict[TopicPartition, ErrorCode]:
        """This transaction's marker for `tps`, queued for `leader`: the markers of every transaction waiting
        for the same broker go in one WriteTxnMarkers request (as Kafka's TxnMarkerQueue per broker). This
        broker's own partitions get theirs written at once, no queue: there is no request to share, and
        each partition's markers still take their turn in its append order (txn_marker_writer.py)."""
        if leader == self._broker.node_id:
            return await self._write_here_now(tps, markers)
        topics: dict[str, list[int]] = defaultdict(list)
        for tp in tps:
            topics[tp.topic].append(tp.partition)
        entry = {
            "producer_id": markers.producer_id,
            "producer_epoch": markers.producer_epoch,
            "transaction_result": markers.commit,
            "topics": [{"name": t, "partition_indexes": ps} for t, ps in topics.items()],
            "coordinator_epoch": markers.coordinator_epoch,
        }
        future: asyncio.Future[dict[TopicPartition, ErrorCode]] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(leader, []).append((entry, future))
        if leader not in self._drains:
            self._drains[leader] = asyncio.get_running_loop().create_task(self._drain(leader))
        return await future

    async def _drain(self, leader: int) -> None:
        """Send what is queued for `leader`, one request at a time, until the queue is empty (the check and
        the removal from `_drains` happen in one step: a marker queued later starts a new drain)."""
        try:
            while batch := self._queues.pop(leader, None):
                try:
                    codes = await self._request(leader, [entry for entry, _ in batch])
                except BaseException:
                    for _, future in batch:
                        if not future.done():
                            future.set_result({})
                    raise
                for entry, future in batch:
                    if not future.done():
                        future.set_result(codes.get(int(entry["producer_id"]), {}))
        finally:
            if self._drains.get(leader) is asyncio.current_task():
                del self._drains[leader]

    async def _request(
        self, leader: int, markers: list[dict[str, Any]]
    ) -> dict[int, dict[TopicPartition, ErrorCode]]:
        """{producer_id: {tp: error}} from one WriteTxnMarkers to another broker; {} when it cannot be reached."""
        broker = next((b for b in self._broker.metadata.live_brokers() if b.node_id == leader), None)
        if broker is None:
            return {}
        try:
            response = await self._client.request(
                broker,
                WRITE_TXN_MARKERS_KEY,
                WRITE_TXN_MARKERS_VERSION,
                {"markers": markers},
                _REQUEST_TIMEOUT_S,
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            logger.info("WriteTxnMarkers to broker %d failed: %r", leader, exc)
            return {}
        codes: dict[int, dict[TopicPartition, ErrorCode]] = {}
        for marker in response.markers:
            found = codes.setdefault(int(marker.producer_id), {})
            for topic in marker.topics:
                for p in topic.partitions:
                    found[TopicPartition(topic.name, p.partition_index)] = ErrorCode(p.error_code)
        return codes

    async def _write_here_now(
        self, tps: list[TopicPartition], markers: TxnMarkers
    ) -> dict[TopicPartition, ErrorCode]:
        """Markers for the partitions this broker leads, written here directly (txn_marker_writer.py); {} (tried
        again) if that failed unexpectedly."""
        wanted = [
            MarkerWrite(
                markers.producer_id, markers.producer_epoch, markers.commit, markers.coordinator_epoch, tp
            )
            for tp in tps
        ]
        try:
            written = await write_markers(self._broker, wanted)
        except Exception:
            logger.exception(
                "writing the markers of transactional_id=%s here failed", markers.transactional_id
            )
            return {}
        return {tp: code for (_, tp), code in written.items()}

    def close(self) -> None:
        for task in [*self._tasks, *self._drains.values()]:
            task.cancel()
        self._client.close()
