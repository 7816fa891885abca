"""FileLog: a partition's log on disk, a list of segments in one directory `<topic>-<partition>/`.

Directory contents:

    00000000000000000000.log / .index / .timeindex   one segment per base offset (segment.py, index.py)
    00000000000000000000.txnindex                     aborted transactions of a segment (txn_index.py)
    leader-epoch-checkpoint                           epoch -> start offset (epoch.py, checkpoint.py)
    *.deleted                                         segments waiting for file_delete_delay_ms

The recovery point and log start offset are checkpointed per log dir by the LogManager. The high
watermark lives only in memory: on a single node every appended batch is committed once the broker says
so, and after a restart HW = LEO is correct because recovery only keeps batches that were fully written
(replication will restore HW from the leader; nothing here needs it persisted).

FileLog is put together from one class per concept, each in its own module over the shared state of
log_state.py (segments, offsets, fault rules):

    log_append.py      append as leader/follower: offsets, leader epochs, segment rolling
    log_read.py        fetch reads, the high watermark, offsets by timestamp/epoch, batch headers
    log_deletion.py    truncation, the log start offset, retention, delayed file deletion
    log_durability.py  flush, the recovery point, close

This module opens a log (recovery is loader.py's) and keeps its aborted-transaction indexes.

Owned by its partition's owner (one asyncio task/lock in the broker): every method except `flush` must be
called by that owner only. `flush` may run on a worker thread (asyncio.to_thread); it only fsyncs files
that stay open meanwhile (a segment with unsynced writes is never closed by the descriptor LRU, and
deleted segments keep their files for file_delete_delay_ms).

EMFILE/ENFILE is not a disk fault: it raises OutOfDescriptors (retriable) and the log stays online;
every other OSError takes the log dir offline (`_fail`). Timestamp lookups live in timestamps.py and
retention decisions in retention.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from brook.common.clock import Clock
from brook.storage.api import LogConfig
from brook.storage.loader import LogLoader
from brook.storage.log_append import LogAppends
from brook.storage.log_deletion import LogDeletion
from brook.storage.log_read import LogReads
from brook.storage.log_state import parse_partition_dir
from brook.storage.open_files import SegmentFiles
from brook.storage.txn_index import AbortedTxn

__all__ = ["FileLog", "parse_partition_dir"]


class FileLog(LogAppends, LogReads, LogDeletion):
    """A partition's log on disk (the module docstring says who may call what). Made with `open`."""

    @classmethod
    def open(
        cls,
        directory: Path,
        config: LogConfig | None = None,
        *,
        clock: Clock,
        recovery_point: int = 0,
        log_start_offset: int = 0,
        had_clean_shutdown: bool = False,
        on_failure: Callable[[Path], None] | None = None,
        flush_on_roll: bool = True,
        files: SegmentFiles | None = None,
    ) -> FileLog:
        """Open (creating if needed) the log in `directory`, recovering from `recovery_point` on."""
        config = config or LogConfig()
        files = files if files is not None else SegmentFiles()
        loader = LogLoader(
            directory,
            config,
            clock,
            recovery_point=recovery_point,
            log_start_offset=log_start_offset,
            had_clean_shutdown=had_clean_shutdown,
            files=files,
        )
        return cls(
            directory,
            config,
            clock,
            loader.load(),
            on_failure=on_failure,
            flush_on_roll=flush_on_roll,
            files=files,
            had_clean_shutdown=had_clean_shutdown,
        )

    def update_config(self, config: LogConfig) -> None:
        self.config = config

    # -- aborted transactions (txn_index.py) -------------------------------------------------------

    def append_aborted_txn(self, txn: AbortedTxn) -> None:
        """An ABORT marker at txn.last_offset was appended: index it in its segment."""
        try:
            self._txn_indexes.append(txn, self._bases)
        except OSError as exc:
            raise self._fail(exc) from exc

    def aborted_txns(self) -> list[AbortedTxn]:
        """Every indexed aborted transaction (the cleaner drops their records)."""
        return self._txn_indexes.all_entries()

    def discard_aborted_txns(self, keys: set[tuple[int, int]]) -> None:
        """Compaction removed these ABORT markers (producer id, marker offset): forget their entries."""
        try:
            self._txn_indexes.discard(keys)
        except OSError as exc:
            raise self._fail(exc) from exc

    def replace_aborted_txns(self, from_offset: int, txns: list[AbortedTxn]) -> None:
        """A replay of the log from `from_offset` found `txns`: they replace the indexed ones from there."""
        try:
            self._txn_indexes.replace_from(from_offset, txns, self._bases)
        except OSError as exc:
            raise self._fail(exc) from exc

    def cleaner_upper_bound(self) -> int | None:
        """Compaction stops before this offset: the partition's last stable offset, once its owner
        said how to get it (`stable_offset_source`); None: no bound beyond the active segment."""
        source = self.stable_offset_source
        return source() if source is not None else None

    def __repr__(self) -> str:
        return f"FileLog({self.tp}, log_start_offset={self.log_start_offset}, log_end_offset={self.log_end_offset})"
