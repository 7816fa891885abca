"""The leader-epoch-checkpoint is written without fsync on the hot path, made durable by the log's flushes,
and rebuilt from batch headers when an unclean shutdown may have lost a write (real FileLog, real files)."""

import os
from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.storage import epoch as epoch_module
from brook.storage.api import LogConfig
from brook.storage.checkpoint import LEADER_EPOCH_CHECKPOINT, read_epoch_checkpoint, write_epoch_checkpoint
from brook.storage.log import FileLog
from brook.testing import make_batch

T0 = 1_700_000_000_000
SMALL_SEGMENTS = LogConfig(segment_bytes=300)


def batch() -> bytearray:
    return make_batch([(b"k", b"v" * 40)], timestamp=T0)


def open_log(path: Path, *, recovery_point: int = 0, clean: bool = False) -> FileLog:
    return FileLog.open(
        path / "t-0",
        SMALL_SEGMENTS,
        clock=FakeClock(T0),
        recovery_point=recovery_point,
        had_clean_shutdown=clean,
    )


def count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_new_epochs_are_written_and_synced_by_the_periodic_flush_not_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(tmp_path)
    log.append_as_leader(batch(), leader_epoch=0)
    log.flush()
    path = log.directory / LEADER_EPOCH_CHECKPOINT
    fsyncs = count_fsyncs(monkeypatch)
    written_at = path.stat().st_mtime_ns
    log.assign_epoch_start_offset(3, log.log_end_offset)  # what make_leader does, on the event loop
    log.append_as_leader(batch(), leader_epoch=3)
    assert fsyncs == []
    assert path.stat().st_mtime_ns == written_at  # not even written yet
    assert read_epoch_checkpoint(path) == [(0, 0)]
    # the periodic flush pass (a worker thread in the broker) writes it and makes it durable, once
    assert log.maybe_flush(T0) is False
    assert read_epoch_checkpoint(path) == [(0, 0), (3, 1)]
    assert len(fsyncs) == 2  # the file and its directory
    log.maybe_flush(T0)
    assert len(fsyncs) == 2
    log.close()


def test_a_truncation_rewrites_the_file_at_once_without_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(tmp_path)
    for epoch in (1, 2, 3):
        log.append_as_leader(batch(), leader_epoch=epoch)
    log.flush()
    fsyncs = count_fsyncs(monkeypatch)
    log.truncate_to(1)  # a follower cutting a diverged tail: a kill -9 must not bring the entries back
    assert read_epoch_checkpoint(log.directory / LEADER_EPOCH_CHECKPOINT) == [(1, 0)]
    assert fsyncs == []
    log.close()
    assert len(fsyncs) >= 2


def test_flush_syncs_the_epoch_file_before_the_recovery_point_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(tmp_path)
    log.append_as_leader(batch(), leader_epoch=1)
    synced: list[int] = []
    real_sync = epoch_module.LeaderEpochCache.sync

    def sync(cache: epoch_module.LeaderEpochCache) -> None:
        synced.append(log.recovery_point)
        real_sync(cache)

    monkeypatch.setattr(epoch_module.LeaderEpochCache, "sync", sync)
    log.flush()
    assert synced == [0]
    assert log.recovery_point == 1
    log.close()


def test_unclean_open_rebuilds_epochs_lost_past_the_recovery_point(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    for epoch in (1, 1, 2, 2, 5):
        log.append_as_leader(batch(), leader_epoch=epoch)
    assert log.leader_epoch_entries == [(1, 0), (2, 2), (5, 4)]
    log.flush()
    recovery_point = 2  # as if the last flush had been after offset 1
    log.close()
    # A power loss kept only the epoch file of that flush: the later entries are gone.
    write_epoch_checkpoint(tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT, [(1, 0)])
    path = tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT
    reopened = open_log(tmp_path, recovery_point=recovery_point)
    assert reopened.leader_epoch_entries == [(1, 0), (2, 2), (5, 4)]
    assert reopened.end_offset_for_epoch(2) == (2, 4)
    # Noted, not written at the open: a second crash now rebuilds the same entries from the same headers.
    assert read_epoch_checkpoint(path) == [(1, 0)]
    again = open_log(tmp_path, recovery_point=recovery_point)
    assert again.leader_epoch_entries == [(1, 0), (2, 2), (5, 4)]
    again.maybe_flush(T0)  # the flush pass (or the flush that moves the recovery point) writes them
    assert read_epoch_checkpoint(path) == [(1, 0), (2, 2), (5, 4)]
    again.close()


def test_unclean_open_with_an_empty_epoch_file_rebuilds_from_the_log_start(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    for epoch in (0, 4, 4, 7):
        log.append_as_leader(batch(), leader_epoch=epoch)
    log.close()
    (tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT).write_bytes(b"")  # renamed, data never reached the disk
    reopened = open_log(tmp_path, recovery_point=4)
    assert reopened.leader_epoch_entries == [(0, 0), (4, 1), (7, 3)]
    reopened.close()


def test_unclean_open_drops_epochs_of_a_lost_tail_and_of_a_replaced_history(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    for epoch in (1, 1, 6):
        log.append_as_leader(batch(), leader_epoch=epoch)
    log.close()
    # The file still describes a history the log no longer has: epoch 5 at offset 2 (truncated away and
    # replaced by epoch 6's batch) and epoch 9 past the log end (its records never reached the disk).
    write_epoch_checkpoint(tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT, [(1, 0), (5, 2), (9, 3)])
    reopened = open_log(tmp_path, recovery_point=2)
    assert reopened.leader_epoch_entries == [(1, 0), (6, 2)]
    reopened.close()


def test_clean_open_trusts_the_epoch_file_without_reading_the_log(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    for epoch in (1, 2):
        log.append_as_leader(batch(), leader_epoch=epoch)
    log.close()  # fsyncs the file
    # Not what the headers say: a clean open must not scan the log to find out.
    write_epoch_checkpoint(tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT, [(1, 0), (3, 1)])
    reopened = open_log(tmp_path, recovery_point=0, clean=True)
    assert reopened.leader_epoch_entries == [(1, 0), (3, 1)]
    reopened.close()


def test_reopening_an_empty_partition_led_in_the_same_epoch_writes_nothing(tmp_path: Path) -> None:
    """Every start drops an epoch with no records yet (one starting at the log end) and the partition's leadership
    then records the same entry again: the file is left as it is (before, two file creations and renames per
    partition, half of a 10,000-partition start)."""
    log = open_log(tmp_path)
    log.assign_epoch_start_offset(0, 0)  # make_leader on an empty log
    log.close()
    path = tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT
    assert read_epoch_checkpoint(path) == [(0, 0)]
    before = path.stat()
    reopened = open_log(tmp_path, clean=True)
    assert reopened.leader_epoch_entries == []  # as Kafka's cache, truncated to the log end
    reopened.assign_epoch_start_offset(0, 0)
    reopened.maybe_flush(T0)
    reopened.close()
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert read_epoch_checkpoint(path) == [(0, 0)]


def test_an_epoch_an_open_dropped_past_the_log_end_is_written_away_before_records_pass_it(
    tmp_path: Path,
) -> None:
    """The open's truncation is only noted; the flush that moves the recovery point over offsets the dropped
    entry claimed writes it first, so a kill -9 after that flush cannot bring the entry back over records of
    another epoch (the unclean open rebuilds only from the recovery point)."""
    log = open_log(tmp_path)
    log.append_as_leader(batch(), leader_epoch=0)
    log.assign_epoch_start_offset(1, 1)  # a leadership that appended nothing
    log.close()
    path = tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT
    assert read_epoch_checkpoint(path) == [(0, 0), (1, 1)]
    follower = open_log(tmp_path, clean=True)
    assert follower.leader_epoch_entries == [(0, 0)]
    assert read_epoch_checkpoint(path) == [(0, 0), (1, 1)]  # not written at the open
    follower.append_as_follower(make_batch([(b"k", b"v")], base_offset=1, partition_leader_epoch=0))
    follower.flush()
    assert follower.recovery_point == 2
    assert read_epoch_checkpoint(path) == [(0, 0)]
    # kill -9 now: the unclean open starts from the recovery point (nothing past it to rebuild)
    reopened = open_log(tmp_path, recovery_point=2)
    assert reopened.leader_epoch_entries == [(0, 0)]
    assert reopened.end_offset_for_epoch(0) == (0, 2)
    reopened.close()


def test_an_unclean_open_that_rebuilds_epochs_leaves_the_file_for_the_flush_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leadership that appended nothing before a kill -9 leaves an entry at the log end; the rebuild drops it
    in memory only (before, a file creation and rename per partition: 40 % of a 10,000-partition start after
    kill -9), and a flush that moves the recovery point writes the file first."""
    log = open_log(tmp_path)
    log.append_as_leader(batch(), leader_epoch=0)
    log.assign_epoch_start_offset(1, 1)
    log.close()
    path = tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT
    before = path.stat()
    reopened = open_log(tmp_path, recovery_point=0)  # kill -9: nothing flushed since
    assert reopened.leader_epoch_entries == [(0, 0)]
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    reopened.append_as_follower(make_batch([(b"k", b"v")], base_offset=1, partition_leader_epoch=0))
    reopened.flush()
    assert reopened.recovery_point == 2
    assert read_epoch_checkpoint(path) == [(0, 0)]
    reopened.close()


def test_a_roll_that_fsyncs_the_old_segment_writes_the_epochs_before_the_recovery_point_moves(
    tmp_path: Path,
) -> None:
    """flush_on_roll (FileLog's default): the roll moves the recovery point itself, so it syncs the epoch file
    first, as flush() does; a kill -9 after it must not lose the epoch of records below that point."""
    log = open_log(tmp_path)
    log.append_as_leader(batch(), leader_epoch=0)
    log.flush()
    log.assign_epoch_start_offset(2, 1)  # noted only
    while log.recovery_point < 2:
        log.append_as_leader(batch(), leader_epoch=2)
    assert read_epoch_checkpoint(tmp_path / "t-0" / LEADER_EPOCH_CHECKPOINT) == [(0, 0), (2, 1)]
    log.close()
