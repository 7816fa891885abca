"""LogManager: every partition log of this broker, spread over one or more log dirs.

Each log dir holds one directory per partition plus, at its top level:

    recovery-point-offset-checkpoint   topic partition offset   (format in checkpoint.py)
    log-start-offset-checkpoint        topic partition offset
    .kafka_cleanshutdown               present only between a clean close() and the next load()
    producer-snapshots                 the partitions' producer state at the last clean close, until the
                                       next load() (written by the broker: storage/producer_snapshot.py)

A new partition goes to the online dir holding the fewest partitions, unless an operator named its dir before
it was created (AlterReplicaLogDirs ahead of a replica move: `prefer_dir`, kept in memory as Kafka keeps it).
Deleting a partition renames its directory to `<topic>-<partition>.<uuid>-delete` first (an atomic step that
load() recognises), then removes it. An OSError in a dir takes that whole dir offline (`offline_dirs`); its
logs then raise LogDirOffline until restart. EMFILE/ENFILE is not such a fault: the dir stays online and the
caller gets OutOfDescriptors (retriable). Owned by the broker; not thread-safe except FileLog.flush and checkpoint.

Start-up (`load`): one listing per log dir, then the partitions are opened by a pool of
`recovery_threads_per_data_dir` threads per dir (Kafka's num.recovery.threads.per.data.dir). The clean
shutdown marker is read first and removed only after every log of the dir is loaded.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from brook.common.clock import Clock
from brook.common.errors import LogDirOffline, OutOfDescriptors
from brook.common.files import is_out_of_descriptors
from brook.common.histogram import LockedHistogram
from brook.common.types import TopicPartition
from brook.storage.api import LogConfig
from brook.storage.checkpoint import (
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    read_offset_checkpoint,
    write_offset_checkpoint,
)
from brook.storage.log import FileLog, parse_partition_dir
from brook.storage.open_files import SegmentFiles
from brook.storage.producer_snapshot import read_producer_snapshots

__all__ = ["CLEAN_SHUTDOWN_FILE", "LogManager"]

logger = logging.getLogger(__name__)

CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
_DELETE_SUFFIX = "-delete"
_FSYNC_EACH_BELOW = 64  # closing more logs than this: one sync(2) instead of fsyncs per file


class LogManager:
    def __init__(
        self,
        log_dirs: list[Path],
        clock: Clock,
        default_config: LogConfig | None = None,
        *,
        flush_on_roll: bool = True,
        recovery_threads_per_data_dir: int = 1,
        max_open_inactive_segments: int = 256,
    ) -> None:
        """flush_on_roll=False: see FileLog; the owner then calls flush() when an append says rolled."""
        if not log_dirs:
            raise ValueError("at least one log dir is required")
        self.flush_on_roll = flush_on_roll
        self.log_dirs = [Path(d) for d in log_dirs]
        self.clock = clock
        self.default_config = default_config or LogConfig()
        self._logs: dict[TopicPartition, FileLog] = {}
        self.generation = 0  # bumped whenever a log is added or taken away: "is `logs()` as it was?"
        self._dir_of: dict[TopicPartition, Path] = {}
        # one checkpoint at a time: close() checkpoints while a periodic pass, its task cancelled at stop, may
        # still write on its thread (both write the same temporary files)
        self._checkpoint_lock = threading.Lock()
        self._partitions_in: dict[Path, int] = {d: 0 for d in self.log_dirs}  # kept in step with _dir_of
        self.offline_dirs: set[Path] = set()
        # AlterReplicaLogDirs for a replica not here yet (`prefer_dir`)
        self._preferred_dirs: dict[TopicPartition, Path] = {}
        self.recovery_threads_per_data_dir = max(1, recovery_threads_per_data_dir)
        self.files = SegmentFiles(max_open=max_open_inactive_segments)
        self.flush_stats = LockedHistogram()  # every log's fsync time, ms (the broker's metrics read it)
        self.load_seconds = 0.0
        # Each loaded log's entry of its dir's `producer-snapshots` (producer_snapshot.py), until its partition
        # opens and takes it.
        self._producer_snapshots: dict[TopicPartition, Any] = {}
        for d in self.log_dirs:
            d.mkdir(parents=True, exist_ok=True)
        self._dir_spellings = {d: {os.path.normpath(d), os.path.realpath(d)} for d in self.log_dirs}

    # -- loading ---------------------------------------------------------------------------------

    def load(self, configs: dict[str, LogConfig] | None = None) -> None:
        """Open every partition found in the log dirs, recovering those that need it.

        `configs` maps topic name -> LogConfig for topics that do not use the default config.
        Raises OutOfDescriptors when the process cannot open the logs it has (the operator must raise
        the open-files limit); that is not a disk fault, so no dir goes offline for it."""
        configs = configs or {}
        started, cpu_started = time.monotonic(), time.process_time()
        for log_dir in self.log_dirs:
            try:
                self._load_dir(log_dir, configs)
            except OSError as exc:
                if is_out_of_descriptors(exc):
                    raise OutOfDescriptors(f"cannot open the logs in {log_dir}: {exc}") from exc
                logger.exception("cannot load log dir=%s", log_dir)
                self._mark_offline(log_dir, exc)
        self.load_seconds = time.monotonic() - started
        recovered = sum(1 for log in self._logs.values() if log.load_result.segments_recovered)
        logger.info(
            "loaded logs count=%d recovered=%d seconds=%.2f cpu_seconds=%.2f threads_per_dir=%d",
            len(self._logs), recovered, self.load_seconds, time.process_time() - cpu_started,
            self.recovery_threads_per_data_dir,
        )  # fmt: skip

    def _load_dir(self, log_dir: Path, configs: dict[str, LogConfig]) -> None:
        marker = log_dir / CLEAN_SHUTDOWN_FILE
        clean = marker.exists()
        snapshots = read_producer_snapshots(log_dir)  # deleted now: before any log can change
        recovery_points = read_offset_checkpoint(log_dir / RECOVERY_POINT_CHECKPOINT)
        start_offsets = read_offset_checkpoint(log_dir / LOG_START_OFFSET_CHECKPOINT)
        found: list[tuple[TopicPartition, Path]] = []
        with os.scandir(log_dir) as entries:  # one listing; d_type tells directories without a stat
            for entry in entries:
                if not entry.is_dir():
                    continue
                if entry.name.endswith(_DELETE_SUFFIX):
                    shutil.rmtree(entry.path, ignore_errors=True)  # a delete that a crash interrupted
                    continue
                try:
                    tp = parse_partition_dir(entry.name)
                except ValueError:
                    continue
                if tp in self._logs:
                    raise RuntimeError(
                        f"duplicate log directories for {tp}: {self._dir_of[tp]} and {log_dir}"
                    )
                found.append((tp, Path(entry.path)))
        logger.info(
            "loading logs dir=%s count=%d clean_shutdown=%s threads=%d",
            log_dir, len(found), clean, self.recovery_threads_per_data_dir,
        )  # fmt: skip

        def open_one(item: tuple[TopicPartition, Path]) -> FileLog:
            tp, path = item
            return FileLog.open(
                path,
                configs.get(tp.topic, self.default_config),
                clock=self.clock,
                recovery_point=recovery_points.get(tp, 0),
                log_start_offset=start_offsets.get(tp, 0),
                had_clean_shutdown=clean,
                on_failure=self._on_failure,
                flush_on_roll=self.flush_on_roll,
                files=self.files,
            )

        if self.recovery_threads_per_data_dir == 1 or len(found) < 2:
            logs = [open_one(item) for item in found]
        else:
            with ThreadPoolExecutor(
                self.recovery_threads_per_data_dir, thread_name_prefix="log-recovery"
            ) as pool:
                logs = list(pool.map(open_one, found))
        for (tp, path), log in zip(found, logs, strict=True):
            log.flush_stats = self.flush_stats
            self._logs[tp] = log
            self.generation += 1
            self._dir_of[tp] = log_dir
            saved = snapshots.get(path.name)
            if saved is not None:
                self._producer_snapshots[tp] = saved
        self._partitions_in[log_dir] += len(found)
        if clean:
            # Removed only after loading: a crash from here on must trigger recovery again.
            marker.unlink()

    # -- partitions ------------------------------------------------------------------------------

    def create(self, tp: TopicPartition, config: LogConfig | None = None) -> FileLog:
        existing = self._logs.get(tp)
        if existing is not None:
            return existing
        preferred = self._preferred_dirs.pop(tp, None)
        log_dir = (
            preferred
            if preferred is not None and preferred not in self.offline_dirs
            else self._next_log_dir()
        )
        try:
            log = FileLog.open(
                log_dir / str(tp),
                config or self.default_config,
                clock=self.clock,
                on_failure=self._on_failure,
                flush_on_roll=self.flush_on_roll,
                files=self.files,
            )
        except OSError as exc:
            if is_out_of_descriptors(exc):
                logger.warning("out of file descriptors creating log tp=%s error=%s", tp, exc)
                raise OutOfDescriptors(f"no file descriptor to spare to create {tp}: {exc}") from exc
            self._mark_offline(log_dir, exc)
            raise LogDirOffline(f"cannot create {tp} in {log_dir}: {exc}") from exc
        log.flush_stats = self.flush_stats
        self._logs[tp] = log
        self.generation += 1
        self._dir_of[tp] = log_dir
        self._partitions_in[log_dir] += 1
        logger.debug("created log tp=%s dir=%s", tp, log_dir)
        return log

    def dir_named(self, path: str) -> Path | None:
        """The log dir `path` names: as given in log.dirs, or its resolved path, compared once normalised as
        text (a client's path never touches the filesystem here)."""
        wanted = os.path.normpath(path)
        for log_dir, spellings in self._dir_spellings.items():
            if wanted in spellings:
                return log_dir
        return None

    def prefer_dir(self, tp: TopicPartition, log_dir: Path) -> None:
        """Create `tp` in `log_dir` when it comes here (a replica an operator placed before it moved in)."""
        self._preferred_dirs[tp] = log_dir

    def _next_log_dir(self) -> Path:
        online = [d for d in self.log_dirs if d not in self.offline_dirs]
        if not online:
            raise LogDirOffline("every log dir is offline")
        return min(online, key=lambda d: self._partitions_in[d])  # ties: the first listed

    def get(self, tp: TopicPartition) -> FileLog | None:
        return self._logs.get(tp)

    def take_producer_snapshot(self, tp: TopicPartition) -> Any:
        """The producer state the last clean close saved for `tp`'s log, once (None if there is none): for
        producer_snapshot.restore_producer_state, which checks it is exact for the log."""
        return self._producer_snapshots.pop(tp, None)

    def logs(self) -> dict[TopicPartition, FileLog]:
        return dict(self._logs)

    def log_dir_of(self, tp: TopicPartition) -> Path | None:
        return self._dir_of.get(tp)

    def update_config(self, tp: TopicPartition, config: LogConfig) -> None:
        log = self._logs.get(tp)
        if log is not None:
            log.update_config(config)

    def delete(self, tp: TopicPartition) -> None:
        self._producer_snapshots.pop(tp, None)
        log = self._logs.pop(tp, None)
        log_dir = self._dir_of.pop(tp, None)
        if log is not None:
            self.generation += 1
        if log is None or log_dir is None:
            return
        self._partitions_in[log_dir] -= 1
        log.close()
        doomed = log.directory.with_name(f"{log.directory.name}.{uuid.uuid4().hex}{_DELETE_SUFFIX}")
        try:
            os.rename(log.directory, doomed)
            shutil.rmtree(doomed)
        except OSError as exc:
            if is_out_of_descriptors(exc):
                logger.warning("out of file descriptors deleting log tp=%s; retried at start-up", tp)
                return  # renamed (or not): the `-delete` directory or the log is removed by the next load
            self._mark_offline(log_dir, exc)
            raise LogDirOffline(f"cannot delete {tp} in {log_dir}: {exc}") from exc
        logger.info("deleted log tp=%s dir=%s", tp, log_dir)

    # -- background work (the broker schedules these) ---------------------------------------------

    def run_retention(self, now_ms: int) -> int:
        """Delete expired segments in every online log; returns the number of segments deleted."""
        deleted = 0
        for tp, log in list(self._logs.items()):
            if log.is_offline:
                continue
            try:
                deleted += log.delete_old_segments(now_ms)
            except LogDirOffline:
                logger.warning("retention skipped offline log tp=%s", tp)
        return deleted

    def run_compaction(self, now_ms: int) -> int:
        """Compact every log whose cleanup_policy includes compact; returns the number of logs cleaned."""
        from brook.storage.cleaner import clean_log  # compaction decodes records; load it only when used

        cleaned = 0
        for log in list(self._logs.values()):
            if log.config.compact and not log.is_offline and clean_log(log, now_ms):
                cleaned += 1
        return cleaned

    def flush_dirty(self, now_ms: int) -> None:
        """flush_ms: fsync logs whose oldest unflushed write is older than their flush interval."""
        for log in list(self._logs.values()):
            if not log.is_offline:
                log.maybe_flush(now_ms)

    def flush_all(self) -> None:
        for log in list(self._logs.values()):
            if not log.is_offline:
                log.flush()

    def checkpoint(self) -> None:
        """Write each online dir's recovery points and log start offsets (atomically).

        May run on a worker thread while the event loop adds or deletes logs: it works on a snapshot.
        """
        with self._checkpoint_lock:
            self._checkpoint()

    def _checkpoint(self) -> None:
        snapshot = [(tp, log, self._dir_of.get(tp)) for tp, log in list(self._logs.items())]
        for log_dir in self.log_dirs:
            if log_dir in self.offline_dirs:
                continue
            logs = {tp: log for tp, log, dir_ in snapshot if dir_ == log_dir and not log.is_offline}
            try:
                write_offset_checkpoint(
                    log_dir / RECOVERY_POINT_CHECKPOINT, {tp: log.recovery_point for tp, log in logs.items()}
                )
                write_offset_checkpoint(
                    log_dir / LOG_START_OFFSET_CHECKPOINT,
                    {tp: log.log_start_offset for tp, log in logs.items()},
                )
            except OSError as exc:
                if is_out_of_descriptors(exc):
                    logger.warning("checkpoint postponed dir=%s error=%s", log_dir, exc)
                    continue  # the next checkpoint writes it; the old file is intact
                self._mark_offline(log_dir, exc)

    @property
    def open_partitions(self) -> int:
        return len(self._logs)

    def close(self) -> None:
        """Flush and close every log, checkpoint, and mark each healthy dir as cleanly shut down.

        Thousands of logs with unflushed writes are not fsynced one file at a time (three fsyncs each,
        minutes on a busy disk, past a supervisor's stop timeout, which then kills the broker and
        costs a full recovery): every file is written, then one sync(2) makes all of it durable, and
        only then do the recovery points move and the checkpoints and markers get written."""
        unsynced: list[FileLog] = []
        few = sum(1 for log in self._logs.values() if not log.is_offline) <= _FSYNC_EACH_BELOW
        for tp, log in list(self._logs.items()):
            try:
                if few:
                    log.close()
                elif log.close_without_fsync():
                    unsynced.append(log)
            except (OSError, LogDirOffline, OutOfDescriptors) as exc:
                logger.warning("close failed tp=%s error=%s", tp, exc)
                self._mark_offline(self._dir_of[tp], exc)
        if unsynced:
            started = time.monotonic()
            os.sync()
            for log in unsynced:
                log.confirm_synced()
            logger.info("synced logs count=%d seconds=%.2f", len(unsynced), time.monotonic() - started)
        self.checkpoint()
        for log_dir in self.log_dirs:
            if log_dir not in self.offline_dirs:
                try:
                    (log_dir / CLEAN_SHUTDOWN_FILE).touch()
                except OSError as exc:
                    logger.warning("cannot write clean shutdown marker dir=%s error=%s", log_dir, exc)
        self._logs.clear()
        self.generation += 1
        self._dir_of.clear()
        self._producer_snapshots.clear()
        self._partitions_in = {d: 0 for d in self.log_dirs}

    # -- faults ----------------------------------------------------------------------------------

    def _on_failure(self, log_dir: Path) -> None:
        self._mark_offline(log_dir, None)

    def _mark_offline(self, log_dir: Path, exc: BaseException | None) -> None:
        if log_dir in self.offline_dirs:
            return
        logger.error("log dir offline dir=%s error=%s", log_dir, exc)
        self.offline_dirs.add(log_dir)
        for tp, d in self._dir_of.items():
            if d == log_dir:
                self._logs[tp].mark_offline()
