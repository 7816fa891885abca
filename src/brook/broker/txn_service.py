"""TransactionService: runs the TransactionCoordinator on the event loop and gives it `__transaction_state`.

Like GroupService for `__consumer_offsets`: it creates the topic on first use (FindCoordinator with
key_type TRANSACTION), loads the partitions this broker leads (a new leader completes the commits and aborts
its predecessor left half done), follows leadership, drives the timers, writes the coordinator's records
acks=all through the ReplicaManager, and sends its markers (txn_markers.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from brook.broker.coordinator_partitions import CoordinatorPartitions, resolver
from brook.broker.replication_waits import ReplicationWaits
from brook.broker.txn_markers import TxnMarkerSender
from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator.fence import PauseFence
from brook.coordinator.offsets_topic import replication_factor
from brook.coordinator.transaction import (
    TRANSACTION_STATE_TOPIC,
    InitResult,
    TransactionConfig,
    TransactionCoordinator,
    TxnState,
)
from brook.metadata.api import BrokerInfo
from brook.records.batch import iter_batches
from brook.records.records import Record, build_batch, iter_records

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["TransactionService"]

_TICK_S = 0.1
_COMPLETION_WAIT_S = 0.05  # how long AddPartitions waits for the previous transaction's markers
_WRITE_TIMEOUT_MS = 30_000  # Kafka's request.timeout.ms, which bounds its transaction log appends


def transaction_config(broker: Broker) -> TransactionConfig:
    c = broker.config
    return TransactionConfig(
        num_partitions=c.int("transaction.state.log.num.partitions"),
        max_timeout_ms=c.int("transaction.max.timeout.ms"),
        abort_timed_out_interval_ms=c.int("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
        id_expiration_ms=c.int("transactional.id.expiration.ms"),
        remove_expired_interval_ms=c.int("transaction.remove.expired.transaction.cleanup.interval.ms"),
    )


class TransactionService(CoordinatorPartitions):
    """Owned by the broker's event loop; handlers reach it as `ctx.broker.transactions`."""

    def __init__(self, broker: Broker) -> None:
        self.markers = TxnMarkerSender(broker, self._still_coordinator)
        self.coordinator = TransactionCoordinator(
            transaction_config(broker), self, self.markers, self._leader_epoch, broker.clock
        )
        super().__init__(
            broker, TRANSACTION_STATE_TOPIC, self.coordinator.config.num_partitions, self.coordinator
        )
        self.coordinator.on_transition = self._wake
        self._transition_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._replication_waits = ReplicationWaits(broker.replicas)
        # after the process was frozen (SIGSTOP), serve nothing for a session timeout (coordinator/fence.py)
        self._fence = PauseFence(broker.config.int("zookeeper.session.timeout.ms"))

    # --- leadership ------------------------------------------------------------------------------

    def _leader_epoch(self, p: int) -> int | None:
        if self._cluster and not self._fence.allows(self._broker.clock.monotonic_ms()):
            return None
        partition = self._broker.replicas.partitions.get(TopicPartition(TRANSACTION_STATE_TOPIC, p))
        if partition is None or not partition.is_leader:
            return None
        return partition.leader_epoch

    def _still_coordinator(self, transactional_id: str, coordinator_epoch: int) -> bool:
        p = self.coordinator.partition_for(transactional_id)
        return (
            not self._stopped
            and self.coordinator.owned_epoch(p) == coordinator_epoch
            and self._leader_epoch(p) == coordinator_epoch
        )

    # --- TxnLogWriter ----------------------------------------------------------------------------

    def append_txn(
        self, partition: int, key: bytes, value: bytes | None, on_replicated: Callable[[ErrorCode], None]
    ) -> None:
        """acks=all: min.insync.replicas checked first, then the ISR awaited (Kafka's appendTransactionToLog)."""
        batch = build_batch([Record(0, self._broker.clock.now_ms(), key, value)], base_offset=0)
        tp = TopicPartition(TRANSACTION_STATE_TOPIC, partition)
        replicas = self._broker.replicas
        # A batch built here is valid by construction (its CRC just computed, one keyed record stamped now):
        # the append checks its framing and size, not its CRC and keys again (as for a validated produce).
        leading = replicas.partitions.get(tp)
        built_for = leading.config if leading is not None else None
        info = replicas.append_records(tp, batch, required_acks=-1, validated_with=built_for)
        # The whole ISR has it already (this broker alone in the ISR): answered without a task and the loop
        # turns of waiting for it, as the coordinator's contract allows (TxnLogWriter.append_txn).
        settled = self._replication_waits.settled(tp, info.last_offset + 1)
        if settled is not None:
            on_replicated(settled)
            return
        self._replication_waits.after_append(tp, info.last_offset + 1, _WRITE_TIMEOUT_MS, on_replicated)

    # --- the topic -------------------------------------------------------------------------------

    def ensure_topic(self) -> None:
        if self._broker.metadata.topic(TRANSACTION_STATE_TOPIC) is not None:
            return
        c = self._broker.config
        replication = replication_factor(
            c.int("transaction.state.log.replication.factor"),
            len(self._broker.metadata.live_brokers()),
            single_node=not self._cluster,
        )
        if replication is None:
            return  # COORDINATOR_NOT_AVAILABLE until enough brokers are up
        # min.isr above the replication factor (a single node) would refuse every write: capped
        min_isr = min(c.int("transaction.state.log.min.isr"), replication)
        self._broker.topics.create_topic_in_background(
            TRANSACTION_STATE_TOPIC,
            self.coordinator.config.num_partitions,
            replication,
            {
                "cleanup.policy": "compact",
                "min.insync.replicas": str(min_isr),
                "segment.bytes": c.get("transaction.state.log.segment.bytes"),
                "unclean.leader.election.enable": "false",
                "compression.type": "uncompressed",
            },
            internal=True,
            then=self._on_topic_created,
        )

    def _on_topic_created(self) -> None:
        self.sync_ownership()
        self._load_pending()

    def coordinator_for(self, transactional_id: str) -> BrokerInfo | None:
        self.ensure_topic()
        return self._coordinator_of(self.coordinator.partition_for(transactional_id))

    def _may_serve(self, p: int) -> bool:
        return self._leader_epoch(p) is not None  # fenced after a pause, or not yet leading here

    def _replay_chunk(self, p: int, data: bytes, offset: int) -> tuple[int, int]:
        view = memoryview(data)
        replayed = 0
        for pos, header in iter_batches(view):
            if not header.is_control:
                try:
                    for record in iter_records(view[pos : pos + header.size], header):
                        if record.offset >= offset:
                            self.coordinator.replay(p, record.key, record.value)
                            replayed += 1
                except BrookError as exc:
                    logger.warning(
                        "skipping unreadable batch in __transaction_state partition=%d offset=%d: %s",
                        p,
                        header.base_offset,
                        exc,
                    )
            offset = max(offset, header.next_offset)
        return offset, replayed

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self._run())

    def shutdown(self) -> None:
        self._stopped = True
        self.markers.close()
        for p in sorted(self.coordinator.owned_partitions):
            self.coordinator.unload(p)

    async def _run(self) -> None:
        while True:
            try:
                if self._cluster and self._fence.observe(self._broker.clock.monotonic_ms()):
                    logger.warning(
                        "the broker was frozen: serving no transaction for %d ms", self._fence.hold_ms
                    )
                if self._broker.metadata.topic(TRANSACTION_STATE_TOPIC) is not None:
                    self.sync_ownership()
                await self._load_queued()
                self.coordinator.tick(self._broker.clock.now_ms())
            except Exception:
                logger.exception("transaction coordinator tick failed")
            await asyncio.sleep(_TICK_S)

    # --- futures for the handlers ----------------------------------------------------------------

    async def init_producer_id(
        self, transactional_id: str, timeout_ms: int, expected: tuple[int, int] | None
    ) -> InitResult:
        fresh = None
        if transactional_id and self.coordinator.needs_producer_id(transactional_id, expected):
            fresh = await self._broker.producer_ids.next_id()
        future: asyncio.Future[InitResult] = asyncio.get_running_loop().create_future()
        self.coordinator.init_producer_id(
            transactional_id, timeout_ms, expected, self._broker.clock.now_ms(), fresh, resolver(future)
        )
        return await future

    async def add_partitions(
        self, transactional_id: str, producer_id: int, producer_epoch: int, partitions: list[TopicPartition]
    ) -> ErrorCode:
        """AddPartitionsToTxn / AddOffsetsToTxn. A producer starts its next transaction as soon as EndTxn is
        answered, usually while the previous one's markers are still being written: rather than answer
        CONCURRENT_TRANSACTIONS at once (clients back off ~20 ms), wait a little for that completion."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _COMPLETION_WAIT_S
        while True:
            future: asyncio.Future[ErrorCode] = loop.create_future()
            self.coordinator.add_partitions(
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
                self._broker.clock.now_ms(),
                resolver(future),
            )
            error = await future
            if error != ErrorCode.concurrent_transactions or not self._completing(transactional_id):
                return error
            if not await self._next_transition(transactional_id, deadline - loop.time()):
                return error

    async def _next_transition(self, transactional_id: str, timeout_s: float) -> bool:
        """Wait until a transition of `transactional_id` is written (False: `timeout_s` passed first)."""
        if timeout_s <= 0:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._transition_waiters.setdefault(transactional_id, [])
        waiters.append(waiter)
        try:
            done, _ = await asyncio.wait({waiter}, timeout=timeout_s)
            return bool(done)
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters and self._transition_waiters.get(transactional_id) is waiters:
                del self._transition_waiters[transactional_id]

    def _wake(self, transactional_id: str) -> None:
        for waiter in self._transition_waiters.pop(transactional_id, []):
            if not waiter.done():
                waiter.set_result(None)

    def _completing(self, transactional_id: str) -> bool:
        meta = self.coordinator.metadata(transactional_id)
        return meta is not None and meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)

    async def end_transaction(
        self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool
    ) -> ErrorCode:
        future: asyncio.Future[ErrorCode] = asyncio.get_running_loop().create_future()
        self.coordinator.end_transaction(
            transactional_id,
            producer_id,
            producer_epoch,
            commit,
            self._broker.clock.now_ms(),
            resolver(future),
        )
        return await future
