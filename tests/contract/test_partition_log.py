"""The PartitionLog contract: FileLog and MemoryLog must answer every question the same way."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import InvalidRecord, OffsetOutOfRange
from brook.records.batch import Compression, iter_batches, parse_header
from brook.storage.api import LogConfig, PartitionLog
from brook.storage.log import FileLog
from brook.testing import MemoryLog, make_batch

T0 = 1_700_000_000_000
LogFactory = Callable[..., PartitionLog]


@pytest.fixture(params=["file", "memory"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogFactory]:
    opened: list[PartitionLog] = []

    def factory(config: LogConfig | None = None) -> PartitionLog:
        clock = FakeClock(T0)
        log: PartitionLog
        if request.param == "file":
            log = FileLog.open(tmp_path / f"topic-{len(opened)}", config, clock=clock)
        else:
            log = MemoryLog(config, clock=clock)
        opened.append(log)
        return log

    yield factory
    for log in opened:
        log.close()


@pytest.fixture
def log(make_log: LogFactory) -> PartitionLog:
    return make_log()


def batch(n: int = 1, ts: int = T0, size: int = 10, **kw: object) -> bytearray:
    return make_batch([(b"k%d" % i, b"v" * size) for i in range(n)], timestamp=ts, **kw)  # type: ignore[arg-type]


def offsets_of(data: bytes) -> list[tuple[int, int]]:
    return [(h.base_offset, h.last_offset) for _, h in iter_batches(data)]


def test_empty_log_has_zero_offsets(log: PartitionLog) -> None:
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (0, 0, 0)
    assert log.read(0, max_bytes=1024).size == 0
    with pytest.raises(OffsetOutOfRange):
        log.read(1, max_bytes=1024)


def test_append_as_leader_assigns_offsets_and_epoch(log: PartitionLog) -> None:
    info = log.append_as_leader(batch(3), leader_epoch=5)
    assert (info.first_offset, info.last_offset, info.log_append_time_ms) == (0, 2, -1)
    info = log.append_as_leader(batch(2) + batch(1), leader_epoch=5)
    assert (info.first_offset, info.last_offset) == (3, 5)
    assert log.log_end_offset == 6
    data = log.read(0, max_bytes=1 << 20).to_bytes()
    assert offsets_of(data) == [(0, 2), (3, 4), (5, 5)]
    assert {h.partition_leader_epoch for _, h in iter_batches(data)} == {5}


def test_append_patches_callers_buffer_in_place(log: PartitionLog) -> None:
    log.append_as_leader(batch(2), leader_epoch=0)
    buf = batch(1)
    log.append_as_leader(buf, leader_epoch=1)
    assert parse_header(buf).base_offset == 2
    assert parse_header(buf).partition_leader_epoch == 1


def test_read_from_middle_of_batch_returns_whole_batch(log: PartitionLog) -> None:
    log.append_as_leader(batch(3), leader_epoch=0)
    log.append_as_leader(batch(3), leader_epoch=0)
    assert offsets_of(log.read(4, max_bytes=1 << 20).to_bytes()) == [(3, 5)]
    assert offsets_of(log.read(1, max_bytes=1 << 20).to_bytes()) == [(0, 2), (3, 5)]


def test_read_returns_first_batch_whole_even_if_bigger_than_max_bytes(log: PartitionLog) -> None:
    log.append_as_leader(batch(1, size=5000), leader_epoch=0)
    log.append_as_leader(batch(1, size=10), leader_epoch=0)
    result = log.read(0, max_bytes=100)
    assert offsets_of(result.to_bytes()) == [(0, 0)]
    assert result.size > 5000


def test_read_stops_at_max_bytes_on_batch_boundary(log: PartitionLog) -> None:
    sizes = [len(batch(1)) for _ in range(5)]
    for _ in range(5):
        log.append_as_leader(batch(1), leader_epoch=0)
    result = log.read(0, max_bytes=sizes[0] * 3 + 5)
    assert offsets_of(result.to_bytes()) == [(0, 0), (1, 1), (2, 2)]
    assert result.size == sizes[0] * 3


def test_read_never_returns_batches_at_or_after_upper_bound(log: PartitionLog) -> None:
    for _ in range(4):
        log.append_as_leader(batch(2), leader_epoch=0)
    assert offsets_of(log.read(0, max_bytes=1 << 20, upper_bound=4).to_bytes()) == [(0, 1), (2, 3)]
    assert offsets_of(log.read(0, max_bytes=1 << 20, upper_bound=5).to_bytes()) == [(0, 1), (2, 3)]
    assert log.read(4, max_bytes=1 << 20, upper_bound=4).size == 0
    assert log.read(8, max_bytes=1 << 20).size == 0


def test_read_outside_log_raises_offset_out_of_range(log: PartitionLog) -> None:
    log.append_as_leader(batch(2), leader_epoch=0)
    with pytest.raises(OffsetOutOfRange):
        log.read(3, max_bytes=100)
    with pytest.raises(OffsetOutOfRange):
        log.read(-1, max_bytes=100)


def test_read_result_carries_offsets(log: PartitionLog) -> None:
    log.append_as_leader(batch(2), leader_epoch=0)
    log.update_high_watermark(1)
    result = log.read(0, max_bytes=100)
    assert (result.log_start_offset, result.high_watermark, result.log_end_offset) == (0, 1, 2)


def test_high_watermark_never_passes_log_end_offset(log: PartitionLog) -> None:
    log.append_as_leader(batch(2), leader_epoch=0)
    log.update_high_watermark(10)
    assert log.high_watermark == 2
    log.update_high_watermark(1)
    assert log.high_watermark == 2


def test_append_as_follower_keeps_offsets(log: PartitionLog) -> None:
    info = log.append_as_follower(batch(2, base_offset=0, partition_leader_epoch=3) + batch(1, base_offset=2))
    assert (info.first_offset, info.last_offset) == (0, 2)
    log.append_as_follower(batch(1, base_offset=10, partition_leader_epoch=4))
    assert log.log_end_offset == 11
    assert log.end_offset_for_epoch(3) == (3, 10)
    with pytest.raises(InvalidRecord):
        log.append_as_follower(batch(1, base_offset=5))


@pytest.mark.parametrize("compression", list(Compression))
def test_offset_for_timestamp_finds_first_record_at_or_after(
    log: PartitionLog, compression: Compression
) -> None:
    log.append_as_leader(batch(3, ts=T0, compression=compression), leader_epoch=1)  # ts T0..T0+2
    log.append_as_leader(batch(3, ts=T0 + 10, compression=compression), leader_epoch=2)  # T0+10..12
    found = log.offset_for_timestamp(T0 + 1)
    assert found is not None
    assert (found.offset, found.timestamp, found.leader_epoch) == (1, T0 + 1, 1)
    found = log.offset_for_timestamp(T0 + 5)
    assert found is not None
    assert (found.offset, found.timestamp, found.leader_epoch) == (3, T0 + 10, 2)
    assert log.offset_for_timestamp(T0 + 13) is None
    found = log.offset_for_timestamp(0)
    assert found is not None
    assert found.offset == 0


def test_special_timestamps(log: PartitionLog) -> None:
    assert log.offset_for_timestamp(-3) is None
    log.append_as_leader(make_batch([(b"a", b"1"), (b"b", b"2")], timestamps=[T0 + 50, T0]), leader_epoch=1)
    log.append_as_leader(make_batch([(b"c", b"3")], timestamps=[T0 + 20]), leader_epoch=2)
    latest = log.offset_for_timestamp(-1)
    earliest = log.offset_for_timestamp(-2)
    max_ts = log.offset_for_timestamp(-3)
    assert latest is not None
    assert earliest is not None
    assert max_ts is not None
    assert (latest.offset, latest.timestamp, latest.leader_epoch) == (3, -1, 2)
    assert (earliest.offset, earliest.timestamp) == (0, -1)
    assert (max_ts.offset, max_ts.timestamp) == (0, T0 + 50)


def test_log_append_time_overrides_timestamps(make_log: LogFactory) -> None:
    log = make_log(LogConfig(message_timestamp_type="LogAppendTime"))
    info = log.append_as_leader(batch(2, ts=5), leader_epoch=0)
    assert info.log_append_time_ms == T0
    header = parse_header(log.read(0, max_bytes=1 << 20).to_bytes())
    assert header.max_timestamp == T0
    assert header.timestamp_type == 1
    found = log.offset_for_timestamp(T0)
    assert found is not None
    assert (found.offset, found.timestamp) == (0, T0)


def test_truncate_to_removes_batches_and_epochs(log: PartitionLog) -> None:
    log.append_as_leader(batch(2), leader_epoch=1)
    log.append_as_leader(batch(2), leader_epoch=2)
    log.append_as_leader(batch(2), leader_epoch=3)
    log.update_high_watermark(6)
    log.truncate_to(4)
    assert log.log_end_offset == 4
    assert log.high_watermark == 4
    assert offsets_of(log.read(0, max_bytes=1 << 20).to_bytes()) == [(0, 1), (2, 3)]
    assert log.end_offset_for_epoch(2) == (2, 4)
    assert log.end_offset_for_epoch(3) == (-1, -1)
    info = log.append_as_leader(batch(1), leader_epoch=4)
    assert info.first_offset == 4
    assert log.end_offset_for_epoch(2) == (2, 4)
    log.truncate_to(100)
    assert log.log_end_offset == 5


def test_truncate_to_zero_empties_log(log: PartitionLog) -> None:
    log.append_as_leader(batch(2), leader_epoch=1)
    log.truncate_to(0)
    assert (log.log_start_offset, log.log_end_offset) == (0, 0)
    assert log.read(0, max_bytes=100).size == 0
    assert log.append_as_leader(batch(1), leader_epoch=1).first_offset == 0


def test_end_offset_for_epoch(log: PartitionLog) -> None:
    assert log.end_offset_for_epoch(0) == (-1, -1)
    log.append_as_leader(batch(2), leader_epoch=2)
    log.append_as_leader(batch(3), leader_epoch=4)
    log.append_as_leader(batch(1), leader_epoch=4)
    assert log.end_offset_for_epoch(4) == (4, 6)
    assert log.end_offset_for_epoch(3) == (2, 2)
    assert log.end_offset_for_epoch(2) == (2, 2)
    assert log.end_offset_for_epoch(1) == (1, 0)
    assert log.end_offset_for_epoch(5) == (-1, -1)
    assert log.end_offset_for_epoch(-1) == (-1, -1)


def test_delete_records_before_moves_log_start(log: PartitionLog) -> None:
    for _ in range(3):
        log.append_as_leader(batch(2), leader_epoch=0)
    log.update_high_watermark(6)
    assert log.delete_records_before(3) == 3
    assert log.log_start_offset == 3
    with pytest.raises(OffsetOutOfRange):
        log.read(2, max_bytes=100)
    assert offsets_of(log.read(3, max_bytes=1 << 20).to_bytes()) == [(2, 3), (4, 5)]
    assert log.delete_records_before(1) == 3  # never backwards
    earliest = log.offset_for_timestamp(-2)
    assert earliest is not None
    assert earliest.offset == 3
    found = log.offset_for_timestamp(0)
    assert found is not None
    assert found.offset == 3
    with pytest.raises(OffsetOutOfRange):
        log.delete_records_before(7)
    assert log.delete_records_before(-1) == 6
    assert log.read(6, max_bytes=100).size == 0


def test_size_bytes_counts_appended_batches(log: PartitionLog) -> None:
    a, b = batch(2), batch(3)
    total = len(a) + len(b)
    log.append_as_leader(a, leader_epoch=0)
    log.append_as_leader(b, leader_epoch=0)
    assert log.size_bytes == total
