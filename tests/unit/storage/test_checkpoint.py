"""Checkpoint files: Kafka's text format, atomic replacement, malformed files ignored."""

from pathlib import Path

from brook.common.types import TopicPartition
from brook.storage.checkpoint import (
    read_epoch_checkpoint,
    read_offset_checkpoint,
    write_epoch_checkpoint,
    write_offset_checkpoint,
)
from brook.storage.epoch import LeaderEpochCache


def test_offset_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "recovery-point-offset-checkpoint"
    offsets = {TopicPartition("a.b-c_d", 0): 10, TopicPartition("x", 12): 0}
    write_offset_checkpoint(path, offsets)
    assert path.read_text() == "0\n2\na.b-c_d 0 10\nx 12 0\n"
    assert read_offset_checkpoint(path) == offsets
    assert not list(tmp_path.glob("*.tmp"))


def test_malformed_or_missing_checkpoint_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    assert read_offset_checkpoint(path) == {}
    path.write_text("0\n3\nt 0 1\n")
    assert read_offset_checkpoint(path) == {}
    path.write_text("7\n0\n")
    assert read_offset_checkpoint(path) == {}


def test_epoch_checkpoint_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "leader-epoch-checkpoint"
    write_epoch_checkpoint(path, [(0, 0), (3, 17)])
    assert path.read_text() == "0\n2\n0 0\n3 17\n"
    assert read_epoch_checkpoint(path) == [(0, 0), (3, 17)]


def test_epoch_cache_persists_and_truncates(tmp_path: Path) -> None:
    path = tmp_path / "leader-epoch-checkpoint"
    cache = LeaderEpochCache(path)
    cache.assign(1, 0)
    cache.assign(1, 5)  # same epoch: no new entry
    cache.assign(2, 10)
    cache.assign(4, 20)
    assert LeaderEpochCache(path).entries == []  # new epochs are written by sync() (the flush pass)
    cache.sync()
    assert LeaderEpochCache(path).entries == [(1, 0), (2, 10), (4, 20)]
    cache.truncate_from_end(15)
    assert LeaderEpochCache(path).entries == [(1, 0), (2, 10)]
    cache.truncate_from_start(12)
    assert LeaderEpochCache(path).entries == [(2, 12)]
    assert cache.epoch_for_offset(100) == 2
    assert cache.epoch_for_offset(11) == -1
