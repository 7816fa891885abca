"""The PartitionLog interface: what handlers and (later) replication may call on a partition's log.

Implementations: `brook.storage.log.FileLog` (segments on disk) and `brook.testing.MemoryLog`.
Both pass tests/contract/test_partition_log.py. Storage is synchronous and knows nothing of sockets;
the broker serializes mutations per partition and runs fsync off the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from brook.records.batch import BatchHeader
from brook.storage.txn_index import AbortedTxn

__all__ = ["AppendInfo", "FileSlice", "LogConfig", "PartitionLog", "ReadResult", "TimestampOffset"]


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Per-topic log settings, Kafka's topic-level names in snake_case (segment.bytes -> segment_bytes)."""

    segment_bytes: int = 1024 * 1024 * 1024
    segment_ms: int = 7 * 24 * 3600 * 1000
    segment_index_bytes: int = 10 * 1024 * 1024
    index_interval_bytes: int = 4096
    retention_ms: int = 7 * 24 * 3600 * 1000
    retention_bytes: int = -1
    cleanup_policy: str = "delete"  # "delete", "compact" or "compact,delete"
    delete_retention_ms: int = 24 * 3600 * 1000
    min_compaction_lag_ms: int = 0
    file_delete_delay_ms: int = 60_000
    flush_messages: int = 2**63 - 1
    flush_ms: int = 2**63 - 1
    max_message_bytes: int = 1048588
    message_timestamp_type: str = "CreateTime"  # or "LogAppendTime"
    compression_type: str = "producer"  # or a codec the broker re-encodes batches with
    # CreateTime bounds (message.timestamp.before.max.ms / after.max.ms, else difference.max.ms)
    message_timestamp_before_max_ms: int = 2**63 - 1
    message_timestamp_after_max_ms: int = 2**63 - 1

    @property
    def compact(self) -> bool:
        return "compact" in self.cleanup_policy

    @property
    def delete(self) -> bool:
        return "delete" in self.cleanup_policy


class AppendInfo(NamedTuple):
    """Where an append landed (a NamedTuple: one is made for every Produce partition)."""

    first_offset: int
    last_offset: int
    log_append_time_ms: int  # -1 unless the topic uses LogAppendTime
    log_start_offset: int
    rolled: bool = False  # this append rolled a segment whose fsync is the caller's job (flush())


@dataclass(frozen=True, slots=True)
class FileSlice:
    """A byte range of an open segment file, sent to the client without decoding.

    The fd stays valid while the slice is in use even if retention deletes the segment meanwhile:
    deleted segments are renamed to .deleted and closed only after file.delete.delay.ms.
    """

    fd: int
    position: int
    size: int

    def read_bytes(self) -> bytes:
        return os.pread(self.fd, self.size, self.position)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Whole batches starting with the one holding the requested offset (fetch may begin mid-batch)."""

    chunks: list[FileSlice | bytes] = field(default_factory=list)
    size: int = 0
    high_watermark: int = 0
    log_start_offset: int = 0
    log_end_offset: int = 0

    def to_bytes(self) -> bytes:
        return b"".join(c if isinstance(c, bytes) else c.read_bytes() for c in self.chunks)


@dataclass(frozen=True, slots=True)
class TimestampOffset:
    timestamp: int
    offset: int
    leader_epoch: int = -1


class PartitionLog(Protocol):
    @property
    def log_start_offset(self) -> int: ...

    @property
    def log_end_offset(self) -> int: ...

    @property
    def high_watermark(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def is_offline(self) -> bool:
        """True once an OSError took this log's dir offline; every call then raises LogDirOffline."""
        ...

    def append_as_leader(
        self,
        batches: bytearray | memoryview,
        *,
        leader_epoch: int,
        parsed: Sequence[tuple[int, BatchHeader]] | None = None,
        now_ms: int | None = None,
    ) -> AppendInfo:
        """Assign offsets (patching each batch's base_offset in place) and append. Batches are pre-validated;
        `parsed` is their (position, header) list when the caller has read it already (validate_batches);
        `now_ms` the time the caller read for this append (LogAppendTime, segment.ms; else the log reads its
        clock)."""
        ...

    def append_as_follower(self, batches: bytes) -> AppendInfo:
        """Append batches that already carry their offsets (replication)."""
        ...

    def read(self, offset: int, *, max_bytes: int, upper_bound: int | None = None) -> ReadResult:
        """Batches from the one holding `offset`, up to max_bytes (at least one whole batch), ending
        before `upper_bound` (the high watermark for consumers, None for followers).
        Raises OffsetOutOfRange outside [log_start_offset, log_end_offset]."""
        ...

    def update_high_watermark(self, offset: int) -> None: ...

    def offset_for_timestamp(self, timestamp: int) -> TimestampOffset | None:
        """First offset whose timestamp >= `timestamp`; -1 latest, -2 earliest, -3 max timestamp."""
        ...

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(largest epoch <= `epoch`, its end offset), as OffsetForLeaderEpoch answers."""
        ...

    def truncate_to(self, offset: int) -> None:
        """Remove batches holding offsets >= `offset`, and epochs starting at or after the new end."""
        ...

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Replication: empty the log and restart it at `offset` (may be past the end); no epochs."""
        ...

    def assign_epoch_start_offset(self, epoch: int, offset: int) -> None:
        """A new leader's epoch starts at `offset` (its log end offset), before it appends anything."""
        ...

    def restore_high_watermark(self, offset: int) -> None:
        """Set the HW at startup (from the replication-offset-checkpoint), within [start, end]."""
        ...

    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: move log_start_offset forward; returns the new log_start_offset."""
        ...

    def batch_headers(self, from_offset: int, *, newer_than_ms: int | None = None) -> Iterator[BatchHeader]:
        """Headers of the batches whose last offset is >= `from_offset`, in log order, without record
        data. With `newer_than_ms`, segments whose largest timestamp is older are skipped whole."""
        ...

    def append_aborted_txn(self, txn: AbortedTxn) -> None:
        """An ABORT marker at txn.last_offset was appended: remember the transaction (txn_index.py)."""
        ...

    def collect_aborted_txns(self, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
        """Aborted transactions with last_offset >= fetch_offset and first_offset < upper_bound."""
        ...

    def replace_aborted_txns(self, from_offset: int, txns: list[AbortedTxn]) -> None:
        """A replay of the log from `from_offset` found `txns`; they replace what was indexed from there."""
        ...

    def replay_batches(self, from_offset: int) -> Iterator[tuple[BatchHeader, bytes | None]]:
        """`batch_headers(from_offset)`, each with the batch's bytes if it is a (small) control batch."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
