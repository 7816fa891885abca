"""Idempotent and transactional producer state of one partition: the last 5 batches of each producer id,
and the transaction each producer has open here.

Kafka keeps this beside the log (ProducerStateManager). A resent batch (same producer id, epoch and
sequence range as a cached one) gets its original offsets back instead of being written twice; a gap
in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced. The state is rebuilt
from the batch headers in the log when a partition opens, so dedupe survives restarts.

Transactions (Kafka's ProducerAppendInfo): a transactional batch (attribute 0x10) of a producer with no
open transaction here opens one at its first offset; a non-transactional batch while one is open is
INVALID_TXN_STATE. A COMMIT or ABORT marker (records/control.py) closes it and gives a `CompletedTxn`;
a marker of an older producer epoch is INVALID_PRODUCER_EPOCH, of an older coordinator epoch
TRANSACTION_COORDINATOR_FENCED. A completed transaction stays "unreplicated" until the high watermark
passes its marker, so the last stable offset (`first_unstable_offset`) is the smallest first offset
of the open and unreplicated transactions: a read_committed consumer never reads a transaction whose
outcome a failover could still take back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from brook.common.errors import InvalidProducerEpoch, OutOfOrderSequence
from brook.common.txn_errors import InvalidTxnState, TransactionCoordinatorFenced
from brook.records.batch import BatchHeader
from brook.records.control import EndTxnMarker

__all__ = ["BATCHES_PER_PRODUCER", "CachedBatch", "CompletedTxn", "ProducerInfo", "ProducerStateManager"]

BATCHES_PER_PRODUCER = 5
_SEQUENCE_WRAP = 2**31


@dataclass(frozen=True, slots=True)
class CachedBatch:
    first_sequence: int
    last_sequence: int
    first_offset: int
    last_offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class CompletedTxn:
    """A transaction a marker closed: its first record and its marker (Kafka's CompletedTxn)."""

    producer_id: int
    first_offset: int
    last_offset: int
    is_aborted: bool


@dataclass(frozen=True, slots=True)
class ProducerInfo:
    """One producer as DescribeProducers (KIP-664) reports it."""

    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int
    current_txn_start_offset: int


@dataclass(slots=True)
class _ProducerEntry:
    epoch: int
    batches: deque[CachedBatch] = field(default_factory=lambda: deque(maxlen=BATCHES_PER_PRODUCER))
    last_timestamp_ms: int = -1
    # Whether state older than `batches` existed (batches evicted from the window, or an older epoch
    # this entry replaced): a truncation that removes batches cannot restore it without the log.
    has_older_state: bool = False
    coordinator_epoch: int = -1  # of the last marker seen for this producer
    current_txn_first_offset: int = -1  # -1: no transaction open


class ProducerStateManager:
    """Owned by its partition; not thread-safe."""

    def __init__(self, producer_id_expiration_ms: int = 86_400_000) -> None:
        self._producers: dict[int, _ProducerEntry] = {}
        self._expiration_ms = producer_id_expiration_ms
        # completed transactions whose marker the high watermark has not passed yet, in marker order
        self._unreplicated: deque[CompletedTxn] = deque()
        self._ongoing: dict[int, int] = {}  # producer id -> first offset of its open transaction
        self.last_marker_offset = -1  # of the newest marker recorded (a truncation below it replays)

    @property
    def expiration_ms(self) -> int:
        return self._expiration_ms

    def __len__(self) -> int:
        return len(self._producers)

    def find_duplicate(self, header: BatchHeader) -> CachedBatch | None:
        """The cached batch this one repeats, or None. Raises on a fenced epoch or a sequence gap."""
        if header.producer_id < 0:
            return None
        entry = self._producers.get(header.producer_id)
        if entry is None:
            return None  # unknown producer (new, or expired): accept any sequence, as Kafka does
        if header.producer_epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"producer {header.producer_id} epoch {header.producer_epoch} is older than {entry.epoch}"
            )
        if header.producer_epoch > entry.epoch:
            if header.base_sequence != 0:
                raise OutOfOrderSequence(
                    f"producer {header.producer_id} new epoch {header.producer_epoch} "
                    f"must start at sequence 0, got {header.base_sequence}"
                )
            return None
        for cached in entry.batches:
            if cached.first_sequence == header.base_sequence and cached.last_sequence == header.last_sequence:
                return cached
        if entry.batches:
            expected = (entry.batches[-1].last_sequence + 1) % _SEQUENCE_WRAP
            if header.base_sequence != expected:
                raise OutOfOrderSequence(
                    f"producer {header.producer_id} expected sequence {expected}, got {header.base_sequence}"
                )
        return None

    def check_append(self, headers: list[BatchHeader]) -> CachedBatch | None:
        """Check a leader append of `headers` (in order) before it happens (Kafka's ProducerAppendInfo).

        Returns the cached batch a resend repeats (the caller answers with its offsets and appends
        nothing); raises InvalidProducerEpoch or OutOfOrderSequence. A later batch of the same producer
        in one request is checked against the earlier one, not against the state before the request.
        """
        pending: dict[int, tuple[int, int]] = {}  # producer id -> (epoch, last sequence) in this request
        for header in headers:
            pid = header.producer_id
            if pid < 0 or header.is_control:
                continue
            entry = self._producers.get(pid)
            if entry is not None and entry.current_txn_first_offset >= 0 and not header.is_transactional:
                raise InvalidTxnState(
                    f"Expected transactional write from producer {pid}: its transaction is open at "
                    f"offset {entry.current_txn_first_offset}"
                )
            previous = pending.get(pid)
            if previous is None:
                duplicate = self.find_duplicate(header)
                if duplicate is not None:
                    return duplicate
            else:
                epoch, last_sequence = previous
                if header.producer_epoch < epoch:
                    raise InvalidProducerEpoch(
                        f"producer {pid} epoch {header.producer_epoch} is older than {epoch}"
                    )
                expected = 0 if header.producer_epoch > epoch else (last_sequence + 1) % _SEQUENCE_WRAP
                if header.base_sequence != expected:
                    raise OutOfOrderSequence(
                        f"producer {pid} expected sequence {expected}, got {header.base_sequence}"
                    )
            pending[pid] = (header.producer_epoch, header.last_sequence)
        return None

    def check_marker(self, producer_id: int, producer_epoch: int, marker: EndTxnMarker) -> None:
        """Before the leader appends a marker (Kafka's appendEndTxnMarker for a COORDINATOR origin)."""
        entry = self._producers.get(producer_id)
        if entry is None:
            return
        if producer_epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"Epoch of producer {producer_id} is {producer_epoch}, which is smaller than the last "
                f"seen epoch {entry.epoch}"
            )
        if entry.coordinator_epoch > marker.coordinator_epoch:
            raise TransactionCoordinatorFenced(
                f"Invalid coordinator epoch for producerId {producer_id}: {marker.coordinator_epoch} "
                f"(zombie), {entry.coordinator_epoch} (current)"
            )

    def record_marker(
        self, producer_id: int, producer_epoch: int, offset: int, marker: EndTxnMarker, now_ms: int
    ) -> CompletedTxn | None:
        """Remember an appended marker at `offset`; the transaction it completes, None if the producer
        had none open here (a marker without data changes neither the LSO nor the index). A producer id
        of -1 is no producer (Kafka's hasProducerId): nothing to complete."""
        if producer_id < 0:
            return None
        entry = self._entry_for_epoch(producer_id, producer_epoch)
        self.last_marker_offset = max(self.last_marker_offset, offset)
        completed = None
        if entry.current_txn_first_offset >= 0:
            completed = CompletedTxn(
                producer_id, entry.current_txn_first_offset, offset, not marker.is_commit
            )
            self._unreplicated.append(completed)
        entry.current_txn_first_offset = -1
        self._ongoing.pop(producer_id, None)
        entry.coordinator_epoch = marker.coordinator_epoch
        entry.last_timestamp_ms = now_ms
        return completed

    def _entry_for_epoch(self, producer_id: int, epoch: int) -> _ProducerEntry:
        """The producer's entry in `epoch`: a new epoch forgets the cached batches (their sequences are
        the old epoch's) but keeps the open transaction and the coordinator epoch."""
        entry = self._producers.get(producer_id)
        if entry is None or epoch != entry.epoch:
            entry = _ProducerEntry(
                epoch,
                has_older_state=entry is not None,
                coordinator_epoch=entry.coordinator_epoch if entry is not None else -1,
                current_txn_first_offset=entry.current_txn_first_offset if entry is not None else -1,
            )
            self._producers[producer_id] = entry
        return entry

    def record(self, header: BatchHeader, first_offset: int, now_ms: int) -> None:
        """Remember an appended data batch (its header must already carry `first_offset`); markers go to
        `record_marker`."""
        if header.producer_id < 0 or header.is_control:
            return
        before = self._producers.get(header.producer_id)
        entry = self._entry_for_epoch(header.producer_id, header.producer_epoch)
        if entry is before and len(entry.batches) == BATCHES_PER_PRODUCER:
            entry.has_older_state = True  # the append below evicts the oldest batch
        entry.batches.append(
            CachedBatch(
                header.base_sequence,
                header.last_sequence,
                first_offset,
                first_offset + header.last_offset_delta,
                header.max_timestamp,
            )
        )
        entry.last_timestamp_ms = now_ms
        if header.is_transactional and entry.current_txn_first_offset < 0:
            entry.current_txn_first_offset = first_offset
            self._ongoing[header.producer_id] = first_offset

    # -- transactions --------------------------------------------------------------------------------

    def first_unstable_offset(self, high_watermark: int) -> int | None:
        """The smallest first offset of the transactions still open or whose marker is at or past
        `high_watermark`, None if there is none (the LSO is then the high watermark)."""
        self.prune_replicated(high_watermark)
        if not self._ongoing and not self._unreplicated:
            return None  # every fetch asks: no transaction, no cost
        candidates = list(self._ongoing.values())
        candidates.extend(t.first_offset for t in self._unreplicated)
        return min(candidates)

    def prune_replicated(self, high_watermark: int) -> None:
        """Forget completed transactions whose marker is below `high_watermark` (they are stable)."""
        while self._unreplicated and self._unreplicated[0].last_offset < high_watermark:
            self._unreplicated.popleft()

    def last_stable_offset_after(self, completed: CompletedTxn) -> int:
        """The LSO once `completed` is done, ignoring the high watermark: the first offset of another
        open or unreplicated transaction, else just past its marker (the AbortedTxn's last_stable_offset)."""
        others = [first for pid, first in self._ongoing.items() if pid != completed.producer_id]
        others.extend(t.first_offset for t in self._unreplicated if t is not completed)
        return min(others, default=completed.last_offset + 1)

    def unreplicated(self) -> list[CompletedTxn]:
        return list(self._unreplicated)

    def restore_unreplicated(self, txns: list[CompletedTxn]) -> None:
        self._unreplicated.extend(txns)

    def producers(self) -> list[ProducerInfo]:
        """Every producer, as DescribeProducers answers (last sequence -1 when no batch is cached)."""
        return [
            ProducerInfo(
                pid,
                e.epoch,
                e.batches[-1].last_sequence if e.batches else -1,
                e.batches[-1].timestamp_ms if e.batches else e.last_timestamp_ms,
                e.coordinator_epoch,
                e.current_txn_first_offset,
            )
            for pid, e in self._producers.items()
        ]

    def entries(self) -> list[tuple[int, int, int, bool, list[CachedBatch], int, int]]:
        """(producer id, epoch, last timestamp, has older state, cached batches, coordinator epoch,
        open transaction's first offset or -1) of every producer."""
        return [
            (
                pid,
                e.epoch,
                e.last_timestamp_ms,
                e.has_older_state,
                list(e.batches),
                e.coordinator_epoch,
                e.current_txn_first_offset,
            )
            for pid, e in self._producers.items()
        ]

    def restore(
        self,
        producer_id: int,
        epoch: int,
        last_timestamp_ms: int,
        has_older_state: bool,
        batches: list[CachedBatch],
        coordinator_epoch: int = -1,
        current_txn_first_offset: int = -1,
    ) -> None:
        """Put back one producer's entry as `entries` gave it (producer_snapshot.py)."""
        entry = _ProducerEntry(
            epoch,
            last_timestamp_ms=last_timestamp_ms,
            has_older_state=has_older_state,
            coordinator_epoch=coordinator_epoch,
            current_txn_first_offset=current_txn_first_offset,
        )
        entry.batches.extend(batches[-BATCHES_PER_PRODUCER:])
        self._producers[producer_id] = entry
        if current_txn_first_offset >= 0:
            self._ongoing[producer_id] = current_txn_first_offset

    def truncate(self) -> None:
        """Forget everything (after a log truncation the caller rebuilds from the log)."""
        self._producers.clear()
        self._unreplicated.clear()
        self._ongoing.clear()
        self.last_marker_offset = -1

    def truncate_from(self, offset: int) -> bool:
        """After the log was truncated to `offset`: drop the cached batches at or past it. Returns False
        when that cannot restore the state a replay of the log would give (a producer lost batches
        and had older state than its window: evicted batches or a previous epoch); the caller then
        rebuilds from the log. Kafka reloads from a snapshot instead (ProducerStateManager.truncateAndReload).
        A cut marker is False too (it reopens its transaction and may have bumped the epoch: only the log
        can tell); open transactions that began at or past `offset` are gone with their batches."""
        if self.last_marker_offset >= offset:
            return False
        for pid, first in list(self._ongoing.items()):
            if first >= offset:
                del self._ongoing[pid]
                self._producers[pid].current_txn_first_offset = -1
        exact = True
        for pid in list(self._producers):
            entry = self._producers[pid]
            if not entry.batches or entry.batches[-1].last_offset < offset:
                continue
            while entry.batches and entry.batches[-1].last_offset >= offset:
                entry.batches.pop()
            if entry.has_older_state:
                exact = False
            elif not entry.batches and entry.coordinator_epoch < 0 and entry.current_txn_first_offset < 0:
                del self._producers[pid]  # all it ever wrote is gone: unknown again
        return exact

    def remove_expired(self, now_ms: int) -> int:
        expired = [
            pid
            for pid, entry in self._producers.items()
            if entry.last_timestamp_ms >= 0
            and now_ms - entry.last_timestamp_ms > self._expiration_ms
            and entry.current_txn_first_offset < 0  # an open transaction is never expired (Kafka's rule)
        ]
        for pid in expired:
            del self._producers[pid]
        return len(expired)
