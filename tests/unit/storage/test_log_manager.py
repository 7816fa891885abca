"""LogManager: dir selection, load, checkpoints, delete."""

import threading
from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.storage import manager as manager_module
from brook.storage.api import LogConfig
from brook.storage.manager import CLEAN_SHUTDOWN_FILE, LogManager
from brook.testing import make_batch
from tests.fixtures.held_writer import HeldFirstWriter

T0 = 1_700_000_000_000


def test_new_partition_goes_to_dir_with_fewest_partitions(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    manager = LogManager(dirs, FakeClock(T0))
    for p in range(6):
        manager.create(TopicPartition("t", p))
    counts = {d: sum(1 for x in d.iterdir() if x.is_dir()) for d in dirs}
    assert set(counts.values()) == {2}
    manager.close()


def test_checkpoints_use_kafka_text_format(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("my.topic-x", 3))
    log.append_as_leader(make_batch([(b"k", b"v")] * 4), leader_epoch=0)
    log.flush()
    manager.checkpoint()
    assert (tmp_path / "recovery-point-offset-checkpoint").read_text() == "0\n1\nmy.topic-x 3 4\n"
    assert (tmp_path / "log-start-offset-checkpoint").read_text() == "0\n1\nmy.topic-x 3 0\n"
    manager.close()


def test_close_waits_for_a_periodic_checkpoint_still_on_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At stop the periodic pass's task is cancelled but its thread writes on; close() checkpoints after it,
    never beside it (both write the same temporary file), and the files end with the newest offsets."""
    tp = TopicPartition("t", 0)
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(tp)
    writer = HeldFirstWriter(manager_module.write_offset_checkpoint)
    monkeypatch.setattr(manager_module, "write_offset_checkpoint", writer)
    periodic = threading.Thread(target=manager.checkpoint)
    periodic.start()
    assert writer.first_inside.wait(10)
    log.append_as_leader(make_batch([(b"k", b"v")] * 3), leader_epoch=0)
    closing = threading.Thread(target=manager.close)
    closing.start()
    overlapped = writer.second_inside.wait(0.5)  # a second writer beside the held one would get in at once
    writer.release()
    periodic.join(10)
    closing.join(10)
    assert not periodic.is_alive()
    assert not closing.is_alive()
    assert not overlapped
    assert writer.most_inside == 1
    assert (tmp_path / "recovery-point-offset-checkpoint").read_text() == "0\n1\nt 0 3\n"


def test_close_then_load_skips_recovery_and_removes_marker(tmp_path: Path) -> None:
    tp = TopicPartition("orders_v2", 0)
    manager = LogManager([tmp_path], FakeClock(T0))
    manager.create(tp, LogConfig()).append_as_leader(make_batch([(b"k", b"v")] * 3), leader_epoch=1)
    manager.close()
    assert (tmp_path / CLEAN_SHUTDOWN_FILE).exists()
    manager = LogManager([tmp_path], FakeClock(T0))
    manager.load()
    assert not (tmp_path / CLEAN_SHUTDOWN_FILE).exists()
    log = manager.get(tp)
    assert log is not None
    assert log.log_end_offset == 3
    assert log.load_result.segments_recovered == 0
    assert set(manager.logs()) == {tp}
    manager.close()


def test_load_after_crash_recovers(tmp_path: Path) -> None:
    tp = TopicPartition("t", 0)
    manager = LogManager([tmp_path], FakeClock(T0))
    manager.create(tp).append_as_leader(make_batch([(b"k", b"v")] * 3), leader_epoch=1)
    # No close(): a crash. A fresh manager must recover.
    manager2 = LogManager([tmp_path], FakeClock(T0))
    manager2.load()
    log = manager2.get(tp)
    assert log is not None
    assert log.log_end_offset == 3
    assert log.load_result.segments_recovered == 1
    manager2.close()
    manager.logs()[tp].close()


def test_delete_removes_partition_dir(tmp_path: Path) -> None:
    tp = TopicPartition("t", 0)
    manager = LogManager([tmp_path], FakeClock(T0))
    manager.create(tp)
    manager.delete(tp)
    assert manager.get(tp) is None
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []
    (tmp_path / "t-1.0123abcd-delete").mkdir()
    manager.load()
    assert not (tmp_path / "t-1.0123abcd-delete").exists()
    manager.close()


def test_a_dir_named_before_the_partition_comes_is_where_it_is_created(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    manager = LogManager([first, second], FakeClock())
    manager.create(TopicPartition("t", 0))  # both empty: the first listed
    assert manager.log_dir_of(TopicPartition("t", 0)) == first
    manager.prefer_dir(TopicPartition("t", 1), first)  # the least loaded would be the second
    manager.create(TopicPartition("t", 1))
    assert manager.log_dir_of(TopicPartition("t", 1)) == first
    manager.create(TopicPartition("t", 2))  # the preference was used up: least loaded again
    assert manager.log_dir_of(TopicPartition("t", 2)) == second
    assert manager.dir_named(str(second)) == second
    assert manager.dir_named(str(tmp_path / "a" / ".." / "b")) == second
    assert manager.dir_named(str(tmp_path / "c")) is None
    manager.close()
