"""Crash recovery: torn tails, garbage, flipped bytes and damaged indexes all lead back to a log that
holds exactly the whole batches before the damage and answers like an undamaged log holding them."""

import logging
import os
import random
from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.records.batch import Compression, iter_batches
from brook.storage.api import LogConfig, TimestampOffset
from brook.storage.log import FileLog
from brook.testing import make_batch

T0 = 1_700_000_000_000
CONFIG = LogConfig(segment_bytes=4000, index_interval_bytes=300, segment_index_bytes=1200)
N_BATCHES = 40


def crash(log: FileLog) -> None:
    """Drop the log without trimming, flushing or checkpointing, as a killed process would."""
    for segment in log.segments:
        segment.close()


def write_log(directory: Path, seed: int = 7) -> tuple[FileLog, list[bytes]]:
    rnd = random.Random(seed)
    log = FileLog.open(directory, CONFIG, clock=FakeClock(T0))
    batches = []
    for i in range(N_BATCHES):
        n = rnd.randint(1, 4)
        timestamps = [T0 + rnd.randint(0, 200) for _ in range(n)]
        records = [(b"k%d" % rnd.randint(0, 9), rnd.randbytes(rnd.randint(0, 150))) for _ in range(n)]
        buf = make_batch(records, timestamps=timestamps, compression=rnd.choice(list(Compression)))
        log.append_as_leader(buf, leader_epoch=i // 10)
        batches.append(bytes(buf))
    return log, batches


def reference_log(directory: Path, batches: list[bytes]) -> FileLog:
    """A log that never crashed, holding `batches` (appended one by one, so it rolls the same way)."""
    log = FileLog.open(directory, CONFIG, clock=FakeClock(T0))
    for b in batches:
        log.append_as_follower(b)
    return log


def answers(log: FileLog) -> list[object]:
    out: list[object] = [(log.log_start_offset, log.log_end_offset)]
    for offset in range(log.log_start_offset, log.log_end_offset + 1):
        for max_bytes in (1, 700, 1 << 20):
            out.append(log.read(offset, max_bytes=max_bytes).to_bytes())
    for ts in [-3, -2, -1, *range(T0 - 1, T0 + 202)]:
        found: TimestampOffset | None = log.offset_for_timestamp(ts)
        out.append(found)
    out.append([log.end_offset_for_epoch(e) for e in range(6)])
    return out


def all_bytes(log: FileLog) -> bytes:
    return b"".join(log.read(s.base_offset, max_bytes=1 << 30).to_bytes() for s in log.segments if s.size)


def last_segment_path(directory: Path, suffix: str = ".log") -> Path:
    return sorted(directory.glob(f"*{suffix}"))[-1]


def check_recovered(tmp_path: Path, kept: list[bytes], **open_args: object) -> FileLog:
    recovered = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0), **open_args)  # type: ignore[arg-type]
    assert all_bytes(recovered) == b"".join(kept)
    reference = reference_log(tmp_path / "ref-0", kept)
    assert answers(recovered) == answers(reference)
    reference.close()
    return recovered


@pytest.mark.parametrize("seed", range(5))
def test_recover_truncates_torn_tail(tmp_path: Path, seed: int, caplog: pytest.LogCaptureFixture) -> None:
    log, batches = write_log(tmp_path / "t-0", seed)
    crash(log)
    path = last_segment_path(tmp_path / "t-0")
    size = path.stat().st_size
    cut = random.Random(seed).randint(size - len(batches[-1]), size - 1)
    os.truncate(path, cut)
    with caplog.at_level(logging.WARNING):
        recovered = check_recovered(tmp_path, batches[:-1])
    assert recovered.load_result.bytes_truncated == cut - (size - len(batches[-1]))
    assert "bytes_cut" in caplog.text
    recovered.close()


def test_recover_drops_appended_garbage(tmp_path: Path) -> None:
    log, batches = write_log(tmp_path / "t-0")
    crash(log)
    with last_segment_path(tmp_path / "t-0").open("ab") as f:
        f.write(random.Random(1).randbytes(3000))
    recovered = check_recovered(tmp_path, batches)
    assert recovered.load_result.bytes_truncated == 3000
    recovered.close()


def test_recover_drops_zero_filled_tail(tmp_path: Path) -> None:
    log, batches = write_log(tmp_path / "t-0")
    crash(log)
    with last_segment_path(tmp_path / "t-0").open("ab") as f:
        f.write(bytes(5000))
    check_recovered(tmp_path, batches).close()


@pytest.mark.parametrize("where", [0, 17, 30, 60, -1])
def test_recover_drops_batch_with_flipped_byte(tmp_path: Path, where: int) -> None:
    log, batches = write_log(tmp_path / "t-0")
    crash(log)
    path = last_segment_path(tmp_path / "t-0")
    data = bytearray(path.read_bytes())
    position = len(data) - len(batches[-1]) + (where if where >= 0 else len(batches[-1]) - 1)
    data[position] ^= 0x40
    path.write_bytes(data)
    check_recovered(tmp_path, batches[:-1]).close()


def test_next_append_after_recovery_continues_offsets(tmp_path: Path) -> None:
    log, _batches = write_log(tmp_path / "t-0")
    crash(log)
    path = last_segment_path(tmp_path / "t-0")
    os.truncate(path, path.stat().st_size - 1)
    recovered = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0))
    end = recovered.log_end_offset
    info = recovered.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=9)
    assert info.first_offset == end
    recovered.close()


def _damage(path: Path, how: str) -> None:
    size = path.stat().st_size if path.exists() else 0
    rnd = random.Random(3)
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        os.truncate(path, max(0, size // 2 - 3))
    elif how == "zero":
        path.write_bytes(bytes(max(size, 24)))
    elif how == "random":
        path.write_bytes(rnd.randbytes(max(size, 24)))


@pytest.mark.parametrize("how", ["delete", "truncate", "zero", "random"])
@pytest.mark.parametrize("suffix", [".index", ".timeindex"])
@pytest.mark.parametrize("clean", [True, False])
def test_damaged_indexes_are_rebuilt(tmp_path: Path, how: str, suffix: str, clean: bool) -> None:
    log, batches = write_log(tmp_path / "t-0")
    expected = answers(log)
    if clean:
        log.close()
    else:
        log.flush()  # recovery point = LEO: only the active segment is rescanned
        crash(log)
    recovery_point = log.recovery_point
    for path in sorted((tmp_path / "t-0").glob(f"*{suffix}")):
        _damage(path, how)
    recovered = FileLog.open(
        tmp_path / "t-0", CONFIG, clock=FakeClock(T0), had_clean_shutdown=clean, recovery_point=recovery_point
    )
    assert all_bytes(recovered) == b"".join(batches)
    assert answers(recovered) == expected
    recovered.close()
    # And the rebuilt indexes are good enough to be trusted on the next clean open.
    again = FileLog.open(
        tmp_path / "t-0", CONFIG, clock=FakeClock(T0), had_clean_shutdown=True, recovery_point=0
    )
    assert again.load_result.indexes_rebuilt == []
    assert answers(again) == expected
    again.close()


def test_only_segments_past_recovery_point_are_scanned(tmp_path: Path) -> None:
    log, _batches = write_log(tmp_path / "t-0")
    log.roll()
    log.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=5)
    recovery_point = log.recovery_point
    assert recovery_point == log.active_segment.base_offset
    crash(log)
    recovered = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0), recovery_point=recovery_point)
    assert recovered.load_result.segments_recovered == 1
    assert recovered.log_end_offset == recovery_point + 1
    recovered.close()


def test_corrupt_middle_segment_removes_later_segments(tmp_path: Path) -> None:
    log, batches = write_log(tmp_path / "t-0")
    segments = [(s.base_offset, s.size) for s in log.segments]
    assert len(segments) >= 3
    crash(log)
    _base, size = segments[1]
    path = sorted((tmp_path / "t-0").glob("*.log"))[1]
    os.truncate(path, size - 5)
    recovered = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0))
    assert len(recovered.segments) == 2
    kept = [b for b in batches if next(iter_batches(b))[1].last_offset < recovered.log_end_offset]
    assert all_bytes(recovered) == b"".join(kept)
    recovered.close()
