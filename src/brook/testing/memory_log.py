"""MemoryLog: the PartitionLog contract over a list of batches in memory, for tests of upper layers.

It mirrors FileLog's observable behaviour (the contract suite runs on both): offsets, whole-batch reads,
timestamp lookups, truncation and leader epochs. It has no segments, so retention by segment is not
modelled; `delete_records_before` drops whole batches that end before the new log start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from brook.common.clock import Clock, FakeClock
from brook.common.errors import InvalidRecord, OffsetOutOfRange
from brook.records.batch import (
    BatchHeader,
    iter_batches,
    parse_header,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
)
from brook.records.records import iter_records
from brook.storage.api import AppendInfo, FileSlice, LogConfig, ReadResult, TimestampOffset
from brook.storage.epoch import LeaderEpochCache
from brook.storage.txn_index import AbortedTxn

__all__ = ["MemoryLog"]


class MemoryLog:
    def __init__(
        self, config: LogConfig | None = None, *, clock: Clock | None = None, log_start_offset: int = 0
    ) -> None:
        self.config = config or LogConfig()
        self.clock = clock or FakeClock()
        self._batches: list[tuple[BatchHeader, bytes]] = []
        self._log_start_offset = log_start_offset
        self._log_end_offset = log_start_offset
        self._high_watermark = log_start_offset
        self._epochs = LeaderEpochCache()
        self._aborted: list[AbortedTxn] = []

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def is_offline(self) -> bool:
        return False  # memory has no log dir to lose

    @property
    def log_end_offset(self) -> int:
        return self._log_end_offset

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @property
    def size_bytes(self) -> int:
        return sum(len(b) for _, b in self._batches)

    @property
    def leader_epoch_entries(self) -> list[tuple[int, int]]:
        return self._epochs.entries

    def append_as_leader(
        self,
        batches: bytearray | memoryview,
        *,
        leader_epoch: int,
        parsed: Sequence[tuple[int, BatchHeader]] | None = None,
        now_ms: int | None = None,
    ) -> AppendInfo:
        if now_ms is None:
            now_ms = self.clock.now_ms()
        log_append_time = self.config.message_timestamp_type == "LogAppendTime"
        offset = self._log_end_offset
        first = offset
        positions = []
        for pos, header in iter_batches(batches) if parsed is None else parsed:
            set_base_offset(batches, pos, offset)
            set_partition_leader_epoch(batches, pos, leader_epoch)
            if log_append_time:
                set_log_append_time(batches, pos, header, now_ms)
            positions.append((pos, header.size))
            offset += header.last_offset_delta + 1
        if not positions:
            raise InvalidRecord("no complete record batch to append")
        self._store(batches, positions)
        self._epochs.assign(leader_epoch, first)
        return AppendInfo(first, offset - 1, now_ms if log_append_time else -1, self._log_start_offset)

    def append_as_follower(self, batches: bytes | bytearray) -> AppendInfo:
        positions = []
        expected = self._log_end_offset
        for pos, header in iter_batches(batches):
            if header.base_offset < expected:
                raise InvalidRecord(f"out of order offset {header.base_offset} (expected >= {expected})")
            positions.append((pos, header.size))
            expected = header.last_offset + 1
        if not positions:
            raise InvalidRecord("no complete record batch to append")
        self._store(batches, positions)
        for header, _ in self._batches[-len(positions) :]:
            self._epochs.assign(header.partition_leader_epoch, header.base_offset)
        first = self._batches[-len(positions)][0].base_offset
        return AppendInfo(first, self._log_end_offset - 1, -1, self._log_start_offset)

    def _store(self, batches: bytes | bytearray | memoryview, positions: list[tuple[int, int]]) -> None:
        for pos, size in positions:
            data = bytes(batches[pos : pos + size])
            header = parse_header(data)
            self._batches.append((header, data))
            self._log_end_offset = header.last_offset + 1

    def batch_headers(self, from_offset: int, *, newer_than_ms: int | None = None) -> Iterator[BatchHeader]:
        for header, _ in list(self._batches):
            if header.last_offset >= from_offset and (
                newer_than_ms is None or header.max_timestamp >= newer_than_ms
            ):
                yield header

    def read(self, offset: int, *, max_bytes: int, upper_bound: int | None = None) -> ReadResult:
        if offset < self._log_start_offset or offset > self._log_end_offset:
            raise OffsetOutOfRange(
                f"offset {offset} outside [{self._log_start_offset}, {self._log_end_offset}]"
            )
        chunks: list[bytes] = []
        size = 0
        if offset < self._log_end_offset and (upper_bound is None or offset < upper_bound):
            for header, data in self._batches:
                if header.last_offset < offset:
                    continue
                if upper_bound is not None and header.last_offset >= upper_bound:
                    break
                if chunks and size + len(data) > max_bytes:
                    break
                chunks.append(data)
                size += len(data)
        joined: list[FileSlice | bytes] = [b"".join(chunks)] if chunks else []  # one chunk, like FileLog
        return ReadResult(joined, size, self._high_watermark, self._log_start_offset, self._log_end_offset)

    def update_high_watermark(self, offset: int) -> None:
        self._high_watermark = max(self._high_watermark, min(offset, self._log_end_offset))

    def offset_for_timestamp(self, timestamp: int) -> TimestampOffset | None:
        if timestamp == -1:
            return TimestampOffset(-1, self._log_end_offset, self._epochs.latest_epoch)
        if timestamp == -2:
            return TimestampOffset(
                -1, self._log_start_offset, self._epochs.epoch_for_offset(self._log_start_offset)
            )
        live = [(h, d) for h, d in self._batches if h.last_offset >= self._log_start_offset]
        if timestamp == -3:
            if not live or max(h.max_timestamp for h, _ in live) < 0:
                return None
            timestamp = max(h.max_timestamp for h, _ in live)
            exact = True
        else:
            exact = False
        for header, data in live:
            if header.max_timestamp < timestamp:
                continue
            for record in iter_records(data, header):
                if record.offset < self._log_start_offset:
                    continue
                if record.timestamp == timestamp or (not exact and record.timestamp > timestamp):
                    return TimestampOffset(record.timestamp, record.offset, header.partition_leader_epoch)
        return None

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        return self._epochs.end_offset_for(epoch, self._log_end_offset)

    def truncate_to(self, offset: int) -> None:
        if offset >= self._log_end_offset:
            self._epochs.truncate_from_end(self._log_end_offset)
            return
        if offset < self._log_start_offset:
            self._batches = []
            self._log_start_offset = self._log_end_offset = offset
        else:
            keep = [(h, d) for h, d in self._batches if h.last_offset < offset]
            cut = [h for h, _ in self._batches if h.last_offset >= offset]
            self._batches = keep
            self._log_end_offset = cut[0].base_offset if cut else offset
        self._epochs.truncate_from_end(self._log_end_offset)
        self._high_watermark = min(self._high_watermark, self._log_end_offset)
        self._log_start_offset = min(self._log_start_offset, self._log_end_offset)
        self._aborted = [t for t in self._aborted if t.last_offset < self._log_end_offset]

    def truncate_fully_and_start_at(self, offset: int) -> None:
        self._batches = []
        self._log_start_offset = self._log_end_offset = self._high_watermark = offset
        self._epochs.clear()
        self._aborted = []

    def assign_epoch_start_offset(self, epoch: int, offset: int) -> None:
        self._epochs.assign(epoch, offset)

    def restore_high_watermark(self, offset: int) -> None:
        self._high_watermark = min(max(offset, self._log_start_offset), self._log_end_offset)

    def delete_records_before(self, offset: int) -> int:
        if offset == -1:
            offset = self._high_watermark
        if offset < 0 or offset > self._high_watermark:
            raise OffsetOutOfRange(
                f"cannot delete records before {offset}: high watermark {self._high_watermark}"
            )
        if offset > self._log_start_offset:
            self._log_start_offset = offset
            self._epochs.truncate_from_start(offset)
            self._batches = [(h, d) for h, d in self._batches if h.last_offset >= offset]
        return self._log_start_offset

    def replay_batches(self, from_offset: int) -> Iterator[tuple[BatchHeader, bytes | None]]:
        for header, data in self._batches:
            if header.last_offset >= from_offset:
                yield header, (bytes(data) if header.is_control else None)

    def append_aborted_txn(self, txn: AbortedTxn) -> None:
        self._aborted.append(txn)

    def collect_aborted_txns(self, fetch_offset: int, upper_bound: int) -> list[AbortedTxn]:
        return [t for t in self._aborted if t.last_offset >= fetch_offset and t.first_offset < upper_bound]

    def replace_aborted_txns(self, from_offset: int, txns: list[AbortedTxn]) -> None:
        self._aborted = [t for t in self._aborted if t.last_offset < from_offset] + list(txns)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
