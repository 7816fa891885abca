"""FileLog on disk: segment files, rolling, reopening."""

from pathlib import Path

from brook.common.clock import FakeClock
from brook.records.batch import iter_batches
from brook.storage.api import LogConfig
from brook.storage.log import FileLog, parse_partition_dir
from brook.testing import make_batch

T0 = 1_700_000_000_000


def batch(n: int = 1, size: int = 100, ts: int = T0) -> bytearray:
    return make_batch([(b"k", b"v" * size)] * n, timestamp=ts)


def test_parse_partition_dir_takes_last_dash() -> None:
    assert parse_partition_dir("my.topic-with_dash-12") == ("my.topic-with_dash", 12)


def test_segments_are_named_by_base_offset_and_roll_on_size(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", LogConfig(segment_bytes=1000), clock=FakeClock(T0))
    for _ in range(10):
        log.append_as_leader(batch(2, size=200), leader_epoch=0)
    names = sorted(p.name for p in (tmp_path / "t-0").glob("*.log"))
    assert names[0] == "00000000000000000000.log"
    assert len(names) == len(log.segments) > 1
    assert [s.base_offset for s in log.segments] == [int(n[:20]) for n in names]
    assert all(s.size <= 1000 for s in log.segments)
    data = log.read(0, max_bytes=1 << 30).to_bytes()
    assert len(list(iter_batches(data))) >= 1
    # Reading across segments one fetch at a time sees every offset.
    offset, seen = 0, []
    while offset < log.log_end_offset:
        for _, h in iter_batches(log.read(offset, max_bytes=1).to_bytes()):
            seen.append(h.base_offset)
            offset = h.next_offset
    assert seen == list(range(0, 20, 2))
    log.close()


def test_roll_on_segment_ms_counts_from_first_batch_timestamp(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    log = FileLog.open(tmp_path / "t-0", LogConfig(segment_ms=1000), clock=clock)
    log.append_as_leader(batch(ts=T0), leader_epoch=0)
    clock.advance(5000)  # wall time alone does not roll a segment that has timestamps
    log.append_as_leader(batch(ts=T0 + 500), leader_epoch=0)
    assert len(log.segments) == 1
    log.append_as_leader(batch(ts=T0 + 1500), leader_epoch=0)
    assert [s.base_offset for s in log.segments] == [0, 2]
    log.close()


def test_roll_when_index_full(tmp_path: Path) -> None:
    config = LogConfig(segment_index_bytes=24, index_interval_bytes=1)
    log = FileLog.open(tmp_path / "t-0", config, clock=FakeClock(T0))
    for _ in range(12):
        log.append_as_leader(batch(), leader_epoch=0)
    assert len(log.segments) > 1
    assert all(s.offset_index.entries <= 3 for s in log.segments)
    log.close()


def test_inactive_indexes_are_trimmed(tmp_path: Path) -> None:
    log = FileLog.open(
        tmp_path / "t-0", LogConfig(segment_bytes=5000, index_interval_bytes=100), clock=FakeClock(T0)
    )
    for _ in range(40):
        log.append_as_leader(batch(), leader_epoch=0)
    first = log.segments[0]
    assert first.offset_index.entries > 0
    assert first.offset_index.path.stat().st_size == first.offset_index.entries * 8
    assert first.time_index.path.stat().st_size == first.time_index.entries * 12
    # Nothing is preallocated: the active segment's index is written at its next flush, whole entries only.
    active = log.active_segment
    log.close()
    assert active.offset_index.path.stat().st_size == active.offset_index.entries * 8 > 0


def test_reopen_after_clean_close_keeps_everything(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=3000, index_interval_bytes=200)
    log = FileLog.open(tmp_path / "t-0", config, clock=FakeClock(T0))
    for i in range(30):
        log.append_as_leader(batch(ts=T0 + i), leader_epoch=i // 10)
    before = log.read(0, max_bytes=1 << 30).to_bytes()
    entries = log.leader_epoch_entries
    log.close()
    log = FileLog.open(
        tmp_path / "t-0", config, clock=FakeClock(T0), had_clean_shutdown=True, recovery_point=30
    )
    assert log.load_result.segments_recovered == 0
    assert log.log_end_offset == 30
    assert log.high_watermark == 30
    assert log.read(0, max_bytes=1 << 30).to_bytes() == before
    assert log.leader_epoch_entries == entries
    found = log.offset_for_timestamp(T0 + 17)
    assert found is not None
    assert found.offset == 17
    assert log.append_as_leader(batch(), leader_epoch=3).first_offset == 30
    log.close()


def test_truncate_across_segments(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", LogConfig(segment_bytes=1000), clock=FakeClock(T0))
    for _ in range(20):
        log.append_as_leader(batch(size=200), leader_epoch=0)
    log.truncate_to(3)
    assert log.log_end_offset == 3
    assert log.active_segment.base_offset <= 3
    assert log.append_as_leader(batch(), leader_epoch=1).first_offset == 3
    log.close()
