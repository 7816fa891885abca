"""The transaction coordinator as a state machine: no sockets, no asyncio, time from a clock.

It owns the transactional ids of the `__transaction_state` partitions this broker leads. Every transition is
written to that partition (acks=all) before it takes effect: the transaction's `pending` holds it meanwhile.
After a PrepareCommit/PrepareAbort is replicated the client is answered and the `MarkerSender` writes the
markers to every partition of the transaction; when they are all written the Complete* record is written.
A coordinator that loads a partition (failover) sends the markers again for every Prepare* it finds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from brook.common.clock import Clock
from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator.offsets_topic import partition_for
from brook.coordinator.transaction import decisions as d
from brook.coordinator.transaction.log_format import decode_key, decode_value, encode_key, encode_value
from brook.coordinator.transaction.state import TxnMetadata, TxnState, TxnTransit

logger = logging.getLogger(__name__)

__all__ = [
    "InitResult",
    "MarkerSender",
    "TransactionConfig",
    "TransactionCoordinator",
    "TxnDescription",
    "TxnLogWriter",
    "TxnMarkers",
]

Callback = Callable[[ErrorCode], None]
Leadership = Callable[[int], int | None]  # our leader epoch of a __transaction_state partition, or None


class TxnLogWriter(Protocol):
    def append_txn(self, partition: int, key: bytes, value: bytes | None, on_replicated: Callback) -> None:
        """Append one record to a `__transaction_state` partition we lead, acks=all: `on_replicated(code)` is
        called exactly once (maybe before returning). Raises BrookError if nothing was appended."""
        ...


@dataclass(frozen=True)
class TxnMarkers:
    """One transaction's commit or abort marker, due on every partition it wrote (Kafka's TxnMarkerEntry)."""

    transactional_id: str
    coordinator_epoch: int
    producer_id: int
    producer_epoch: int
    commit: bool
    partitions: frozenset[TopicPartition]


class MarkerSender(Protocol):
    def send_markers(self, markers: TxnMarkers, on_written: Callable[[], None]) -> None:
        """Write the commit/abort marker to every partition's leader (WriteTxnMarkers), retrying until each is
        written or gone (a deleted topic); then `on_written()`. Gives up silently once we lost the partition."""
        ...


@dataclass(frozen=True)
class TransactionConfig:
    num_partitions: int = 50
    max_timeout_ms: int = 900_000
    abort_timed_out_interval_ms: int = 10_000
    id_expiration_ms: int = 604_800_000
    remove_expired_interval_ms: int = 3_600_000


@dataclass(frozen=True)
class InitResult:
    error: ErrorCode
    producer_id: int = -1
    producer_epoch: int = -1


@dataclass(frozen=True)
class TxnDescription:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    state: str
    timeout_ms: int
    start_ms: int
    partitions: frozenset[TopicPartition]


_APPEND_ERRORS = {
    ErrorCode.unknown_topic_or_partition: ErrorCode.coordinator_not_available,
    ErrorCode.not_enough_replicas: ErrorCode.coordinator_not_available,
    ErrorCode.not_enough_replicas_after_append: ErrorCode.coordinator_not_available,
    ErrorCode.request_timed_out: ErrorCode.coordinator_not_available,
    ErrorCode.not_leader_or_follower: ErrorCode.not_coordinator,
    ErrorCode.kafka_storage_error: ErrorCode.not_coordinator,
}


def _client_error(code: ErrorCode) -> ErrorCode:
    """A `__transaction_state` write's failure as the client sees it (Kafka's appendTransactionToLog)."""
    if code == ErrorCode.none:
        return code
    return _APPEND_ERRORS.get(code, ErrorCode.unknown_server_error)


class TransactionCoordinator:
    def __init__(
        self,
        config: TransactionConfig,
        writer: TxnLogWriter,
        markers: MarkerSender,
        leadership: Leadership,
        clock: Clock,
    ) -> None:
        self.config = config
        self._clock = clock
        self._writer = writer
        self._markers = markers
        self._leadership = leadership
        self._epochs: dict[int, int] = {}  # partition -> coordinator epoch we own it in
        self._loading: set[int] = set()
        self._txns: dict[int, dict[str, TxnMetadata]] = {}
        self._incomplete: set[tuple[int, str]] = set()  # markers written, Complete* write still due
        self._next_abort_check_ms = 0
        self._next_expire_check_ms = 0
        # called with a transactional id once one of its transitions is written (or failed): a request that
        # met CONCURRENT_TRANSACTIONS may try again (TransactionService wakes AddPartitions waiting on it)
        self.on_transition: Callable[[str], None] = lambda _transactional_id: None

    # --- ownership -------------------------------------------------------------------------------

    def partition_for(self, transactional_id: str) -> int:
        return partition_for(transactional_id, self.config.num_partitions)

    @property
    def owned_partitions(self) -> set[int]:
        return set(self._epochs)

    def owned_epoch(self, partition: int) -> int | None:
        return self._epochs.get(partition)

    def is_loading(self, partition: int) -> bool:
        return partition in self._loading

    def begin_loading(self, partition: int, epoch: int) -> None:
        self._epochs[partition] = epoch
        self._loading.add(partition)
        self._txns[partition] = {}
        self._incomplete = {(p, t) for p, t in self._incomplete if p != partition}

    def replay(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """One `__transaction_state` record, in log order (later records win; a tombstone deletes)."""
        if key is None:
            return
        transactional_id = decode_key(key)
        if transactional_id is None:
            return
        txns = self._txns.setdefault(partition, {})
        if value is None:
            txns.pop(transactional_id, None)
            return
        transit = decode_value(value)
        meta = txns.get(transactional_id)
        if meta is None:
            meta = txns[transactional_id] = TxnMetadata(transactional_id, transit.producer_id)
        meta.apply(transit)

    def finish_loading(self, partition: int) -> None:
        """Serve the partition; a commit or abort the old coordinator left half done is completed now."""
        self._loading.discard(partition)
        epoch = self._epochs[partition]
        for meta in list(self._txns.get(partition, {}).values()):
            if meta.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                logger.info(
                    "completing %s of transactional_id=%s after loading partition=%d",
                    meta.state.kafka_name,
                    meta.transactional_id,
                    partition,
                )
                self._send_markers(partition, epoch, meta)

    def unload(self, partition: int) -> None:
        self._epochs.pop(partition, None)
        self._loading.discard(partition)
        self._txns.pop(partition, None)
        self._incomplete = {(p, t) for p, t in self._incomplete if p != partition}

    def _owner_error(self, partition: int) -> ErrorCode | None:
        if partition not in self._epochs:
            # led here but not taken over yet (FindCoordinator already names this broker): loading, as in Kafka
            led = self._leadership(partition) is not None
            return ErrorCode.coordinator_load_in_progress if led else ErrorCode.not_coordinator
        if partition in self._loading:
            return ErrorCode.coordinator_load_in_progress
        if self._leadership(partition) != self._epochs[partition]:
            return ErrorCode.not_coordinator
        return None

    def metadata(self, transactional_id: str) -> TxnMetadata | None:
        return self._txns.get(self.partition_for(transactional_id), {}).get(transactional_id)

    # --- writes ----------------------------------------------------------------------------------

    def _write(self, partition: int, meta: TxnMetadata, transit: TxnTransit, done: Callback) -> None:
        """Write `transit` to the log; apply it once replicated (if we still own the partition in that epoch)."""
        epoch = self._epochs[partition]
        meta.pending = transit
        value = None if transit.state == TxnState.DEAD else encode_value(transit)
        replicated = False

        def on_replicated(code: ErrorCode) -> None:
            nonlocal replicated
            replicated = True
            if meta.pending is transit:
                meta.pending = None
            if (
                self._epochs.get(partition) != epoch
                or self._txns.get(partition, {}).get(meta.transactional_id) is not meta
            ):
                done(ErrorCode.not_coordinator)
                return
            if code == ErrorCode.none:
                if transit.state == TxnState.DEAD:
                    del self._txns[partition][meta.transactional_id]
                else:
                    meta.apply(transit)
            else:
                logger.warning(
                    "writing %s of transactional_id=%s failed: %s",
                    transit.state.kafka_name,
                    meta.transactional_id,
                    code.name,
                )
            done(_client_error(code))
            self.on_transition(meta.transactional_id)

        try:
            self._writer.append_txn(partition, encode_key(meta.transactional_id), value, on_replicated)
        except BrookError as exc:
            # raised by what ran after the write (on_replicated may run before append_txn returns)
            if replicated:
                raise
            if meta.pending is transit:
                meta.pending = None
            done(_client_error(exc.error_code))

    # --- InitProducerId --------------------------------------------------------------------------

    def needs_producer_id(self, transactional_id: str, expected: tuple[int, int] | None) -> bool:
        return d.needs_new_producer_id(self.metadata(transactional_id), expected)

    def init_producer_id(
        self,
        transactional_id: str,
        timeout_ms: int,
        expected: tuple[int, int] | None,
        now_ms: int,
        new_producer_id: int | None,
        callback: Callable[[InitResult], None],
    ) -> None:
        """`new_producer_id` is a freshly allocated id, needed when `needs_producer_id` said so."""
        if not transactional_id:
            callback(InitResult(ErrorCode.invalid_request))
            return
        if not d.valid_timeout(timeout_ms, self.config.max_timeout_ms):
            callback(InitResult(ErrorCode.invalid_transaction_timeout))
            return
        partition = self.partition_for(transactional_id)
        error = self._owner_error(partition)
        if error is not None:
            callback(InitResult(error))
            return
        meta = self.metadata(transactional_id)
        if meta is None:
            if new_producer_id is None:
                callback(InitResult(ErrorCode.coordinator_not_available))
                return
            meta = TxnMetadata(
                transactional_id, new_producer_id, timeout_ms=timeout_ms, last_update_ms=now_ms
            )
            self._txns[partition][transactional_id] = meta
            new_producer_id = None
        decision = d.decide_init(meta, timeout_ms, expected, now_ms, new_producer_id)
        if decision == d.FENCE:
            fence = d.decide_fence_abort(meta, now_ms)
            if isinstance(fence, ErrorCode):
                callback(InitResult(fence))
                return
            logger.info(
                "fencing producer of transactional_id=%s: aborting its open transaction", transactional_id
            )
            self._prepare_end(
                partition,
                meta,
                fence,
                lambda code: callback(
                    InitResult(ErrorCode.concurrent_transactions if code == ErrorCode.none else code)
                ),
            )
            return
        if isinstance(decision, ErrorCode):
            callback(InitResult(decision))
            return
        assert isinstance(decision, TxnTransit)
        transit = decision

        def written(code: ErrorCode) -> None:
            if code != ErrorCode.none:
                callback(InitResult(code))
                return
            logger.info(
                "initialized transactional_id=%s producer_id=%d epoch=%d",
                transactional_id,
                transit.producer_id,
                transit.producer_epoch,
            )
            callback(InitResult(ErrorCode.none, transit.producer_id, transit.producer_epoch))

        self._write(partition, meta, transit, written)

    # --- AddPartitionsToTxn / AddOffsetsToTxn ----------------------------------------------------

    def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Iterable[TopicPartition],
        now_ms: int,
        callback: Callback,
    ) -> None:
        decided = self._decide(
            transactional_id,
            lambda meta: d.decide_add_partitions(meta, producer_id, producer_epoch, partitions, now_ms),
            callback,
        )
        if decided is not None:
            self._write(*decided, callback)

    def verify_partitions(
        self, transactional_id: str, producer_id: int, producer_epoch: int, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, ErrorCode]:
        """AddPartitionsToTxn v4+ verify_only: whether each partition is in the open transaction (no write)."""
        if not transactional_id:
            return dict.fromkeys(partitions, ErrorCode.invalid_request)
        error = self._owner_error(self.partition_for(transactional_id))
        if error is None:
            decided = d.decide_verify(
                self.metadata(transactional_id), producer_id, producer_epoch, partitions
            )
            if not isinstance(decided, ErrorCode):
                return decided
            error = decided
        return dict.fromkeys(partitions, error)

    # --- EndTxn ----------------------------------------------------------------------------------

    def end_transaction(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        now_ms: int,
        callback: Callback,
    ) -> None:
        decided = self._decide(
            transactional_id,
            lambda meta: d.decide_end(meta, producer_id, producer_epoch, commit, now_ms),
            callback,
        )
        if decided is not None:
            self._prepare_end(*decided, callback)

    def _decide(
        self, transactional_id: str, decide: Callable[[TxnMetadata | None], d.Decision], callback: Callback
    ) -> tuple[int, TxnMetadata, TxnTransit] | None:
        """A client request's checks (id given, partition owned and loaded) and `decide`'s transition to write;
        None when `callback` already got the answer (an error, or NONE when nothing needs writing)."""
        if not transactional_id:
            callback(ErrorCode.invalid_request)
            return None
        partition = self.partition_for(transactional_id)
        error = self._owner_error(partition)
        if error is not None:
            callback(error)
            return None
        meta = self.metadata(transactional_id)
        decision = decide(meta)
        if isinstance(decision, ErrorCode):
            callback(decision)
            return None
        assert meta is not None
        return partition, meta, decision

    def _prepare_end(
        self, partition: int, meta: TxnMetadata, transit: TxnTransit, callback: Callback
    ) -> None:
        """Write PrepareCommit/PrepareAbort; once replicated answer the client and send the markers."""
        epoch = self._epochs[partition]

        def written(code: ErrorCode) -> None:
            callback(code)
            if code == ErrorCode.none:
                self._send_markers(partition, epoch, meta)

        self._write(partition, meta, transit, written)

    def _send_markers(self, partition: int, epoch: int, meta: TxnMetadata) -> None:
        commit = meta.state == TxnState.PREPARE_COMMIT
        producer_id, producer_epoch = meta.producer_id, meta.producer_epoch

        def on_written() -> None:
            if (
                self._epochs.get(partition) != epoch
                or self._txns.get(partition, {}).get(meta.transactional_id) is not meta
            ):
                return  # no longer ours: the new coordinator completes it
            if (meta.producer_id, meta.producer_epoch) != (producer_id, producer_epoch):
                return
            self._complete(partition, meta)

        markers = TxnMarkers(
            meta.transactional_id, epoch, producer_id, producer_epoch, commit, meta.partitions
        )
        self._markers.send_markers(markers, on_written)

    def _complete(self, partition: int, meta: TxnMetadata) -> None:
        decision = d.decide_complete(meta, self._clock.now_ms())
        if isinstance(decision, ErrorCode):
            if decision == ErrorCode.concurrent_transactions:
                self._incomplete.add((partition, meta.transactional_id))  # after the write in flight
            return

        def written(code: ErrorCode) -> None:
            if code != ErrorCode.none:
                self._incomplete.add((partition, meta.transactional_id))  # tick retries the write

        self._write(partition, meta, decision, written)

    # --- timers ----------------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        for partition, transactional_id in sorted(self._incomplete):
            self._incomplete.discard((partition, transactional_id))
            meta = self._txns.get(partition, {}).get(transactional_id)
            if meta is not None and self._owner_error(partition) is None:
                self._complete(partition, meta)
        if now_ms >= self._next_abort_check_ms:
            self._next_abort_check_ms = now_ms + self.config.abort_timed_out_interval_ms
            self.abort_timed_out(now_ms)
        if now_ms >= self._next_expire_check_ms:
            self._next_expire_check_ms = now_ms + self.config.remove_expired_interval_ms
            self.expire_ids(now_ms)

    def abort_timed_out(self, now_ms: int) -> None:
        for partition, txns in list(self._txns.items()):
            if self._owner_error(partition) is not None:
                continue
            for meta in list(txns.values()):
                if d.is_timed_out(meta, now_ms):
                    fence = d.decide_fence_abort(meta, now_ms)
                    if isinstance(fence, TxnTransit):
                        logger.info(
                            "aborting transaction of transactional_id=%s: older than %d ms",
                            meta.transactional_id,
                            meta.timeout_ms,
                        )
                        self._prepare_end(partition, meta, fence, lambda _code: None)

    def expire_ids(self, now_ms: int) -> None:
        for partition, txns in list(self._txns.items()):
            if self._owner_error(partition) is not None:
                continue
            for meta in list(txns.values()):
                if d.is_expired(meta, now_ms, self.config.id_expiration_ms):
                    logger.info("transactional_id=%s expired", meta.transactional_id)
                    self._write(partition, meta, d.decide_expire(meta, now_ms), lambda _code: None)

    # --- DescribeTransactions / ListTransactions ------------------------------------------------

    def describe(self, transactional_id: str) -> tuple[ErrorCode, TxnDescription | None]:
        if not transactional_id:
            return ErrorCode.invalid_request, None
        error = self._owner_error(self.partition_for(transactional_id))
        if error is not None:
            return error, None
        meta = self.metadata(transactional_id)
        if meta is None or meta.state == TxnState.DEAD:
            return ErrorCode.transactional_id_not_found, None
        return ErrorCode.none, _description(meta)

    def list_transactions(
        self,
        states: Iterable[str] = (),
        producer_ids: Iterable[int] = (),
        min_duration_ms: int = -1,
        now_ms: int = 0,
    ) -> tuple[ErrorCode, list[TxnDescription], list[str]]:
        """(error, matching transactions, unknown state filters). Empty filters match everything."""
        wanted_states = set()
        unknown = []
        for name in states:
            state = TxnState.from_kafka_name(name)
            if state is None:
                unknown.append(name)
            else:
                wanted_states.add(state)
        wanted_ids = set(producer_ids)
        found = []
        for partition, txns in self._txns.items():
            if partition in self._loading:
                continue
            for meta in txns.values():
                if states and meta.state not in wanted_states:
                    continue
                if wanted_ids and meta.producer_id not in wanted_ids:
                    continue
                if min_duration_ms >= 0 and (meta.start_ms < 0 or now_ms - meta.start_ms < min_duration_ms):
                    continue
                if meta.state != TxnState.DEAD:
                    found.append(_description(meta))
        if self._loading:
            return ErrorCode.coordinator_load_in_progress, found, unknown
        return ErrorCode.none, found, unknown


def _description(meta: TxnMetadata) -> TxnDescription:
    return TxnDescription(
        transactional_id=meta.transactional_id,
        producer_id=meta.producer_id,
        producer_epoch=meta.producer_epoch,
        state=meta.state.kafka_name,
        timeout_ms=meta.timeout_ms,
        start_ms=meta.start_ms,
        partitions=meta.partitions,
    )
