"""Idempotent-producer state of one partition: the last 5 batches of each producer id.

Kafka keeps this beside the log (ProducerStateManager). A resent batch (same producer id, epoch and
sequence range as a cached one) gets its original offsets back instead of being written twice; a gap
in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced. The state is rebuilt
from the batch headers in the log when a partition opens, so dedupe survives restarts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from brook.common.errors import InvalidProducerEpoch, OutOfOrderSequence
from brook.records.batch import BatchHeader

__all__ = ["BATCHES_PER_PRODUCER", "CachedBatch", "ProducerStateManager"]

BATCHES_PER_PRODUCER = 5
_SEQUENCE_WRAP = 2**31


@dataclass(frozen=True, slots=True)
class CachedBatch:
    first_sequence: int
    last_sequence: int
    first_offset: int
    last_offset: int
    timestamp_ms: int


@dataclass(slots=True)
class _ProducerEntry:
    epoch: int
    batches: deque[CachedBatch] = field(default_factory=lambda: deque(maxlen=BATCHES_PER_PRODUCER))
    last_timestamp_ms: int = -1
    # Whether state older than `batches` existed (batches evicted from the window, or an older epoch
    # this entry replaced): a truncation that removes batches cannot restore it without the log.
    has_older_state: bool = False


class ProducerStateManager:
    """Owned by its partition; not thread-safe."""

    def __init__(self, producer_id_expiration_ms: int = 86_400_000) -> None:
        self._producers: dict[int, _ProducerEntry] = {}
        self._expiration_ms = producer_id_expiration_ms

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

    def record(self, header: BatchHeader, first_offset: int, now_ms: int) -> None:
        """Remember an appended batch (its header must already carry `first_offset`)."""
        if header.producer_id < 0 or header.is_control:
            return
        entry = self._producers.get(header.producer_id)
        if entry is None or header.producer_epoch != entry.epoch:
            entry = _ProducerEntry(header.producer_epoch, has_older_state=entry is not None)
            self._producers[header.producer_id] = entry
        elif len(entry.batches) == BATCHES_PER_PRODUCER:
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

    def entries(self) -> list[tuple[int, int, int, bool, list[CachedBatch]]]:
        """(producer id, epoch, last timestamp, has older state, cached batches) of every producer."""
        return [
            (pid, e.epoch, e.last_timestamp_ms, e.has_older_state, list(e.batches))
            for pid, e in self._producers.items()
        ]

    def restore(
        self,
        producer_id: int,
        epoch: int,
        last_timestamp_ms: int,
        has_older_state: bool,
        batches: list[CachedBatch],
    ) -> None:
        """Put back one producer's entry as `entries` gave it (producer_snapshot.py)."""
        entry = _ProducerEntry(epoch, last_timestamp_ms=last_timestamp_ms, has_older_state=has_older_state)
        entry.batches.extend(batches[-BATCHES_PER_PRODUCER:])
        self._producers[producer_id] = entry

    def truncate(self) -> None:
        """Forget everything (after a log truncation the caller rebuilds from the log)."""
        self._producers.clear()

    def truncate_from(self, offset: int) -> bool:
        """After the log was truncated to `offset`: drop the cached batches at or past it. Returns False
        when that cannot restore the state a replay of the log would give (a producer lost batches
        and had older state than its window: evicted batches or a previous epoch); the caller then
        rebuilds from the log. Kafka reloads from a snapshot instead (ProducerStateManager.truncateAndReload)."""
        exact = True
        for pid in list(self._producers):
            entry = self._producers[pid]
            if not entry.batches or entry.batches[-1].last_offset < offset:
                continue
            while entry.batches and entry.batches[-1].last_offset >= offset:
                entry.batches.pop()
            if entry.has_older_state:
                exact = False
            elif not entry.batches:
                del self._producers[pid]  # all it ever wrote is gone: unknown again
        return exact

    def remove_expired(self, now_ms: int) -> int:
        expired = [
            pid
            for pid, entry in self._producers.items()
            if entry.last_timestamp_ms >= 0 and now_ms - entry.last_timestamp_ms > self._expiration_ms
        ]
        for pid in expired:
            del self._producers[pid]
        return len(expired)
