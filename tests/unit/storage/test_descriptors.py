"""Descriptor economy (issue 12): one descriptor per partition at rest, an LRU for inactive segments,
indexes that hold none, lazy clean loads, and EMFILE that is never a disk fault.

Faults are real: the process's own RLIMIT_NOFILE is lowered to what it already uses, so the next
open() fails with EMFILE exactly as it would on a busy broker.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import OutOfDescriptors
from brook.common.types import TopicPartition
from brook.metadata.embedded import FILE_NAME, EmbeddedMetadataStore
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.storage.manager import LogManager
from brook.storage.open_files import SegmentFiles
from brook.testing import make_batch

T0 = 1_700_000_000_000
SMALL_SEGMENTS = LogConfig(segment_bytes=1000, index_interval_bytes=100)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def no_descriptor_to_spare() -> Iterator[None]:
    """Every further open() fails with EMFILE until the block ends (holes below the limit are filled)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use, hard))
    fillers: list[int] = []
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                break
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def fill(log: FileLog, batches: int) -> list[int]:
    offsets = []
    for i in range(batches):
        info = log.append_as_leader(
            make_batch([(b"k", b"v%03d" % i + bytes(90))], timestamp=T0 + i), leader_epoch=0
        )
        offsets.append(info.first_offset)
    return offsets


def test_a_partition_at_rest_holds_one_descriptor(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS)
    for p in range(20):
        fill(manager.create(TopicPartition("t", p)), 30)  # several segments each, with index entries
    assert all(len(log.segments) > 3 for log in manager.logs().values())
    manager.close()

    before = open_descriptors()
    manager = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS)
    manager.load()
    assert open_descriptors() - before == 20  # the active segments; no index, no inactive segment
    for log in manager.logs().values():
        inactive = log.segments[:-1]
        # A clean load reads nothing of an inactive segment: no state, no index, no descriptor.
        assert not any(s.state_known or s.offset_index.loaded or s.has_open_file for s in inactive)
    manager.close()


def test_reads_of_old_segments_stay_within_the_lru(tmp_path: Path) -> None:
    files = SegmentFiles(max_open=3)
    log = FileLog.open(tmp_path / "t-0", SMALL_SEGMENTS, clock=FakeClock(T0), files=files)
    offsets = fill(log, 60)
    log.flush()  # fsynced segments may be closed by the LRU
    assert len(log.segments) > 8
    for offset in offsets:
        result = log.read(offset, max_bytes=1)
        batch = result.to_bytes()
        assert b"v%03d" % offsets.index(offset) in batch
        open_inactive = sum(1 for s in log.segments[:-1] if s.has_open_file)
        assert open_inactive <= 3
    log.close()


def test_unflushed_inactive_segments_are_never_closed_by_the_lru(tmp_path: Path) -> None:
    files = SegmentFiles(max_open=1)
    log = FileLog.open(
        tmp_path / "t-0", SMALL_SEGMENTS, clock=FakeClock(T0), files=files, flush_on_roll=False
    )
    fill(log, 40)
    unsynced = [s for s in log.segments[:-1] if s.needs_sync]
    assert len(unsynced) > 1
    assert all(s.has_open_file for s in unsynced)  # a flush thread may still fsync them
    log.flush()
    assert not any(s.needs_sync for s in log.segments)
    log.read(0, max_bytes=1)  # touching one segment lets the LRU close the others
    assert sum(1 for s in log.segments[:-1] if s.has_open_file) <= 1
    log.close()


def test_index_memory_of_inactive_segments_is_bounded(tmp_path: Path) -> None:
    files = SegmentFiles(max_open=100, max_index_bytes=64)
    log = FileLog.open(tmp_path / "t-0", SMALL_SEGMENTS, clock=FakeClock(T0), files=files)
    offsets = fill(log, 60)
    log.close()
    log = FileLog.open(
        tmp_path / "t-0", SMALL_SEGMENTS, clock=FakeClock(T0), files=files, had_clean_shutdown=True
    )
    for i, offset in enumerate(offsets):
        assert b"v%03d" % i in log.read(offset, max_bytes=1).to_bytes()
        assert files.index_memory.used <= 64 + 12 * 10  # bound plus the index just used
    log.close()


def test_out_of_descriptors_is_retriable_and_keeps_the_dir_online(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS)
    log = manager.create(TopicPartition("t", 0))
    fill(log, 3)
    with no_descriptor_to_spare():
        with pytest.raises(OutOfDescriptors):
            manager.create(TopicPartition("t", 1))
        with pytest.raises(OutOfDescriptors):
            fill(log, 20)  # needs a new segment
        assert log.read(0, max_bytes=1 << 20).size > 0  # what is open keeps working
        manager.checkpoint()  # postponed, not a fault
    assert manager.offline_dirs == set()
    assert not log.is_offline
    end = log.log_end_offset
    fill(log, 20)
    assert log.log_end_offset == end + 20
    manager.create(TopicPartition("t", 1))
    manager.close()


def test_metadata_write_that_fails_changes_nothing(tmp_path: Path) -> None:
    store = EmbeddedMetadataStore(tmp_path, 0)
    store.create_topic("kept", 1, 1, {})
    on_disk = (tmp_path / FILE_NAME).read_bytes()
    with no_descriptor_to_spare():
        store._reserve.close()  # its slot is taken by someone else (as the acceptor would take it)
        taken = os.open(os.devnull, os.O_RDONLY)
        try:
            with pytest.raises(OutOfDescriptors):
                store.create_topic("lost", 3, 1, {})
            with pytest.raises(OutOfDescriptors):
                store.add_partitions("kept", 5)
        finally:
            os.close(taken)
    assert set(store.topics()) == {"kept"}
    assert len(store.topics()["kept"].partitions) == 1
    assert (tmp_path / FILE_NAME).read_bytes() == on_disk
    store.create_topic("later", 2, 1, {})
    assert set(EmbeddedMetadataStore(tmp_path, 0).topics()) == {"kept", "later"}


def test_a_metadata_write_lands_in_the_reserved_descriptor_when_none_is_spare(tmp_path: Path) -> None:
    store = EmbeddedMetadataStore(tmp_path, 0)
    with no_descriptor_to_spare():
        store.create_topic("landed", 2, 1, {})
        store.add_partitions("landed", 3)
    reloaded = EmbeddedMetadataStore(tmp_path, 0)
    assert set(reloaded.topics()) == {"landed"}
    assert len(reloaded.topics()["landed"].partitions) == 3
    # the reserve is taken back once descriptors are free again, ready for the next shortage
    store.create_topic("after", 1, 1, {})
    with no_descriptor_to_spare():
        store.create_topic("again", 1, 1, {})
    assert set(EmbeddedMetadataStore(tmp_path, 0).topics()) == {"landed", "after", "again"}


def test_recovery_threads_load_the_same_logs(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS)
    for p in range(12):
        fill(manager.create(TopicPartition("t", p)), 5 + p)
    expected = {tp: log.log_end_offset for tp, log in manager.logs().items()}
    manager.flush_all()
    manager.checkpoint()  # then crash: no close, no marker
    for log in manager.logs().values():
        for segment in log.segments:
            segment.close()
    reloaded = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS, recovery_threads_per_data_dir=4)
    reloaded.load()
    assert {tp: log.log_end_offset for tp, log in reloaded.logs().items()} == expected
    # Only segments at or past each recovery point were scanned.
    for log in reloaded.logs().values():
        assert log.load_result.segments_recovered == 1
    reloaded.close()


def test_closing_many_logs_syncs_once_and_still_honours_the_clean_shutdown(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS)
    for p in range(100):  # more than the per-file fsync threshold
        fill(manager.create(TopicPartition("t", p)), 3)
    expected = {tp: log.log_end_offset for tp, log in manager.logs().items()}
    manager.close()
    # The recovery points were checkpointed at the log end offsets: durable, nothing to recover.
    points = (tmp_path / "recovery-point-offset-checkpoint").read_text().split("\n")[2:-1]
    assert {TopicPartition(t, int(p)): int(o) for t, p, o in (line.split() for line in points)} == expected
    reloaded = LogManager([tmp_path], FakeClock(T0), SMALL_SEGMENTS)
    reloaded.load()
    assert {tp: log.log_end_offset for tp, log in reloaded.logs().items()} == expected
    assert all(log.load_result.segments_recovered == 0 for log in reloaded.logs().values())
    reloaded.close()
