"""flush_on_roll=False: a roll inside an append leaves the fsync (and the recovery point) to flush()."""

from pathlib import Path

from brook.common.clock import FakeClock
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.testing import make_batch

T0 = 1_700_000_000_000


def _batch() -> bytearray:
    return make_batch([(b"k", b"v" * 200)] * 2, timestamp=T0)


def test_deferred_roll_reports_rolled_and_flush_moves_the_recovery_point(tmp_path: Path) -> None:
    log = FileLog.open(
        tmp_path / "t-0", LogConfig(segment_bytes=1000), clock=FakeClock(T0), flush_on_roll=False
    )
    infos = [log.append_as_leader(_batch(), leader_epoch=0) for _ in range(6)]
    assert len(log.segments) > 1
    assert [i.rolled for i in infos].count(True) == len(log.segments) - 1
    assert log.recovery_point == 0  # nothing fsynced yet
    log.flush()
    assert log.recovery_point == log.log_end_offset
    log.close()


def test_default_roll_still_fsyncs_inline(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", LogConfig(segment_bytes=1000), clock=FakeClock(T0))
    infos = [log.append_as_leader(_batch(), leader_epoch=0) for _ in range(6)]
    assert not any(i.rolled for i in infos)
    assert log.recovery_point == log.active_segment.base_offset
    log.close()
