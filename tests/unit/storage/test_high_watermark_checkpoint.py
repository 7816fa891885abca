"""replication-offset-checkpoint (Kafka's format), the HW a FileLog restarts with, and the leader epoch
cache rules replication relies on."""

from __future__ import annotations

from pathlib import Path

from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.storage.epoch import LeaderEpochCache
from brook.storage.high_watermark_checkpoint import (
    REPLICATION_OFFSET_CHECKPOINT,
    read_high_watermarks,
    write_high_watermarks,
)
from brook.storage.log import FileLog
from brook.testing import make_batch


def test_checkpoint_file_is_kafkas_format(tmp_path: Path) -> None:
    write_high_watermarks(tmp_path, {TopicPartition("b", 1): 7, TopicPartition("a", 0): 42})
    assert (tmp_path / REPLICATION_OFFSET_CHECKPOINT).read_text() == "0\n2\na 0 42\nb 1 7\n"
    assert read_high_watermarks(tmp_path) == {TopicPartition("a", 0): 42, TopicPartition("b", 1): 7}
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_or_torn_checkpoint_reads_as_empty(tmp_path: Path) -> None:
    assert read_high_watermarks(tmp_path) == {}
    (tmp_path / REPLICATION_OFFSET_CHECKPOINT).write_text("0\n3\na 0 1\n")
    assert read_high_watermarks(tmp_path) == {}


def test_reopened_log_takes_the_restored_hw_within_its_bounds(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", clock=FakeClock())
    for _ in range(5):
        log.append_as_leader(bytearray(make_batch([(None, b"v")])), leader_epoch=0)
    log.close()
    reopened = FileLog.open(tmp_path / "t-0", clock=FakeClock(), had_clean_shutdown=True)
    reopened.restore_high_watermark(3)
    assert reopened.high_watermark == 3
    reopened.restore_high_watermark(99)
    assert reopened.high_watermark == 5
    reopened.close()


def test_epoch_cache_assign_drops_entries_an_older_epoch_contradicts() -> None:
    cache = LeaderEpochCache()
    cache.assign(1, 0)
    cache.assign(3, 10)  # a leadership that appended nothing at 10
    cache.assign(2, 10)  # the follower then appends epoch-2 batches from 10
    assert cache.entries == [(1, 0), (2, 10)]
    cache.assign(2, 12)  # same epoch, later offset: nothing changes
    assert cache.entries == [(1, 0), (2, 10)]


def test_truncating_at_the_end_still_drops_an_empty_epoch(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", clock=FakeClock())
    log.append_as_leader(bytearray(make_batch([(None, b"v")])), leader_epoch=0)
    log.assign_epoch_start_offset(4, 1)
    log.truncate_to(1)
    assert log.leader_epoch_entries == [(0, 0)]
    log.close()


def test_truncate_fully_and_start_at_past_the_end(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", clock=FakeClock())
    log.append_as_leader(bytearray(make_batch([(None, b"v")])), leader_epoch=0)
    log.truncate_fully_and_start_at(100)
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (100, 100, 100)
    assert log.leader_epoch_entries == []
    log.close()
    reopened = FileLog.open(tmp_path / "t-0", clock=FakeClock(), had_clean_shutdown=True)
    assert (reopened.log_start_offset, reopened.log_end_offset) == (100, 100)
    reopened.close()
