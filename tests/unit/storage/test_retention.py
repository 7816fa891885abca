"""Retention: whole inactive segments by time and size, log start offset only forward, delayed file delete."""

from pathlib import Path

from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.storage.api import LogConfig
from brook.storage.checkpoint import read_offset_checkpoint
from brook.storage.manager import LogManager
from brook.testing import make_batch

T0 = 1_700_000_000_000
HOUR = 3600 * 1000


def batch(ts: int, size: int = 300) -> bytearray:
    return make_batch([(b"k", b"v" * size)], timestamp=ts)


def test_time_retention_deletes_expired_inactive_segments(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    manager = LogManager([tmp_path], clock)
    config = LogConfig(segment_bytes=1000, retention_ms=10 * HOUR, file_delete_delay_ms=1000)
    log = manager.create(TopicPartition("t", 0), config)
    for i in range(9):
        if i and i % 3 == 0:
            log.roll()
        log.append_as_leader(batch(T0 + i * HOUR, size=100), leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)  # retention deletes only below the HW
    bases = [s.base_offset for s in log.segments]
    assert len(bases) == 3
    assert manager.run_retention(T0 + 10 * HOUR) == 0
    # The first segment's newest record is T0 + 2h.
    assert manager.run_retention(T0 + 12 * HOUR + 1) == 1
    assert log.log_start_offset == bases[1]
    assert [s.base_offset for s in log.segments] == bases[1:]
    # The active segment is never deleted, however old.
    assert manager.run_retention(T0 + 100 * HOUR) == 1
    assert len(log.segments) == 1
    assert log.log_start_offset == bases[2]
    manager.checkpoint()
    assert read_offset_checkpoint(tmp_path / "log-start-offset-checkpoint") == {
        TopicPartition("t", 0): bases[2]
    }
    manager.close()


def test_size_retention(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0), LogConfig(segment_bytes=1000, retention_bytes=1500))
    for _ in range(12):
        log.append_as_leader(batch(T0), leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)  # retention deletes only below the HW
    assert manager.run_retention(T0) >= 1
    assert log.size_bytes - log.active_segment.size <= 1500
    assert log.size_bytes > 1500 - 1000
    manager.close()


def test_compact_only_topics_keep_old_segments(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(
        TopicPartition("t", 0), LogConfig(segment_bytes=1000, retention_ms=1, cleanup_policy="compact")
    )
    for _ in range(6):
        log.append_as_leader(batch(T0), leader_epoch=0)
    assert manager.run_retention(T0 + HOUR) == 0
    manager.close()


def test_deleted_segment_stays_readable_until_delay(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(
        TopicPartition("t", 0), LogConfig(segment_bytes=1000, retention_ms=HOUR, file_delete_delay_ms=60_000)
    )
    for _ in range(6):
        log.append_as_leader(batch(T0), leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)  # retention deletes only below the HW
    in_flight = log.read(0, max_bytes=1 << 20)
    expected = in_flight.to_bytes()
    now = T0 + 2 * HOUR
    assert manager.run_retention(now) >= 1
    assert list((tmp_path / "t-0").glob("*.deleted"))
    assert in_flight.to_bytes() == expected  # the fd is still open
    manager.run_retention(now + 60_000)
    assert not list((tmp_path / "t-0").glob("*.deleted"))
    manager.close()


def test_delete_records_then_retention_drops_whole_segments(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0), LogConfig(segment_bytes=1000, file_delete_delay_ms=0))
    for _ in range(9):
        log.append_as_leader(batch(T0), leader_epoch=0)
    log.update_high_watermark(log.log_end_offset)
    target = log.segments[1].base_offset + 1
    assert log.delete_records_before(target) == target
    assert log.segments[0].base_offset == target - 1
    assert log.log_start_offset == target
    manager.close()
    manager = LogManager([tmp_path], FakeClock(T0))
    manager.load()
    reopened = manager.get(TopicPartition("t", 0))
    assert reopened is not None
    assert reopened.log_start_offset == target
    manager.close()


def test_retention_never_deletes_records_at_or_above_the_high_watermark(tmp_path: Path) -> None:
    """A leader whose followers have not fetched a segment yet keeps it, however old or large: the log
    start offset never passes the HW (Kafka's deletableSegments)."""
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0), LogConfig(segment_bytes=1000, retention_bytes=1))
    for _ in range(9):
        log.append_as_leader(batch(T0), leader_epoch=0)
    log.update_high_watermark(log.segments[1].base_offset)  # only the first segment is replicated
    assert manager.run_retention(T0 + 1000 * HOUR) == 1
    assert log.log_start_offset == log.segments[0].base_offset <= log.high_watermark
    log.update_high_watermark(log.log_end_offset)
    assert manager.run_retention(T0 + 1000 * HOUR) >= 1
    assert len(log.segments) == 1
    manager.close()
