"""An OSError on a log dir takes it offline: LogDirOffline (chained), nothing half-written is readable."""

import errno
import os
from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import LogDirOffline
from brook.common.types import TopicPartition
from brook.storage import segment as segment_module
from brook.storage.manager import LogManager
from brook.testing import make_batch

T0 = 1_700_000_000_000


def enospc(*args: object) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_failed_append_raises_log_dir_offline_and_keeps_leo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(dirs, FakeClock(T0))
    bad = manager.create(TopicPartition("t", 0))
    good = manager.create(TopicPartition("t", 1))
    assert manager.log_dir_of(TopicPartition("t", 0)) != manager.log_dir_of(TopicPartition("t", 1))
    bad.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=0)
    size_before = bad.size_bytes

    monkeypatch.setattr(segment_module.os, "pwrite", enospc)
    with pytest.raises(LogDirOffline) as info:
        bad.append_as_leader(make_batch([(b"k", b"v")] * 3), leader_epoch=0)
    assert isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()

    assert bad.log_end_offset == 1
    assert bad.size_bytes == size_before
    assert manager.offline_dirs == {dirs[0]}
    with pytest.raises(LogDirOffline):
        bad.read(0, max_bytes=100)
    with pytest.raises(LogDirOffline):
        bad.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=0)
    # The other dir keeps working, and new partitions avoid the offline dir.
    good.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=0)
    assert manager.log_dir_of(manager.create(TopicPartition("u", 0)).tp) == dirs[1]
    manager.close()


def test_partial_write_is_cut_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0))
    log.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=0)
    real_pwrite = os.pwrite
    calls = []

    def half_then_fail(fd: int, data: memoryview, offset: int) -> int:
        calls.append(offset)
        if len(calls) == 1:
            return real_pwrite(fd, data[: len(data) // 2], offset)
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(segment_module.os, "pwrite", half_then_fail)
    with pytest.raises(LogDirOffline):
        log.append_as_leader(make_batch([(b"k", b"v" * 100)]), leader_epoch=0)
    monkeypatch.undo()
    assert os.path.getsize(log.active_segment.path) == log.active_segment.size
    manager.close()
    again = LogManager([tmp_path], FakeClock(T0))
    again.load()
    reopened = again.get(TopicPartition("t", 0))
    assert reopened is not None
    assert reopened.log_end_offset == 1
    again.close()


def test_failed_flush_raises_log_dir_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0))
    log.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=0)
    monkeypatch.setattr(segment_module.os, "fsync", enospc)
    with pytest.raises(LogDirOffline):
        log.flush()
    monkeypatch.undo()
    assert tmp_path in manager.offline_dirs
    manager.close()


def test_read_on_closed_fd_raises_log_dir_offline(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0))
    log.append_as_leader(make_batch([(b"k", b"v")] * 2), leader_epoch=0)
    log.append_as_leader(make_batch([(b"k", b"v")] * 2), leader_epoch=0)
    os.close(log.active_segment.fd)  # the disk went away under us
    with pytest.raises(LogDirOffline):
        log.read(2, max_bytes=100)
    assert tmp_path in manager.offline_dirs
    log.active_segment._fd = -1  # already closed above; keep close() from closing a reused fd number
    manager.close()


def test_flush_racing_with_close_is_not_a_disk_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker thread's fsync that finds the log closed under it (topic deleted) must not take the dir offline."""
    manager = LogManager([tmp_path / "a"], FakeClock(T0))
    log = manager.create(TopicPartition("t", 0))
    log.append_as_leader(make_batch([(b"k", b"v")]), leader_epoch=0)
    real_fsync = os.fsync

    def close_then_fsync(fd: int) -> None:
        monkeypatch.setattr(segment_module.os, "fsync", real_fsync)
        log.close()  # what the event loop does meanwhile when the topic is deleted
        real_fsync(fd)  # the fd is closed now: EBADF

    monkeypatch.setattr(segment_module.os, "fsync", close_then_fsync)
    log.flush()
    assert not manager.offline_dirs
    assert not log.is_offline
