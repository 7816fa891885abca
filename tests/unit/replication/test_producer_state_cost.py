"""Producer state stays cheap to keep: truncation cuts it in place when that is exact, a rebuild reads batch
headers only and skips segments older than producer.id.expiration.ms, and expired producers go."""

from __future__ import annotations

from pathlib import Path

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import OutOfOrderSequence
from brook.common.types import TopicPartition
from brook.records.batch import parse_header, set_base_offset, set_partition_leader_epoch
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.storage.producer_state import ProducerStateManager
from brook.testing import make_batch

T0 = 1_700_000_000_000
DAY_MS = 86_400_000


def _batch(seq: int, *, pid: int = 7, epoch: int = 0, offset: int = 0, ts: int = T0) -> bytearray:
    batch = bytearray(
        make_batch(
            [(None, b"v%d" % seq)], producer_id=pid, producer_epoch=epoch, base_sequence=seq, timestamp=ts
        )
    )
    set_base_offset(batch, 0, offset)
    set_partition_leader_epoch(batch, 0, 1)
    return batch


def _follower(tmp_path: Path, config: LogConfig | None = None) -> Partition:
    config = config or LogConfig()
    log = FileLog.open(tmp_path / "t-0", config, clock=FakeClock(T0))
    return Partition(TopicPartition("t", 0), log, config, 1, 2, 1, (1, 2), (1, 2))


def test_truncation_within_the_window_cuts_in_place_without_reading_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partition = _follower(tmp_path)
    for i in range(4):
        partition.append_as_follower(bytes(_batch(i, offset=i)), 4, T0)
    partition.append_as_follower(bytes(_batch(0, pid=8, offset=4)), 5, T0)

    def no_rebuild(now_ms: int) -> None:
        raise AssertionError("a truncation within every producer's window must not rescan the log")

    monkeypatch.setattr(partition, "rebuild_producer_state", no_rebuild)
    partition.truncate_as_follower(2, T0)
    partition.make_leader(2, (1, 2), (1, 2), T0)
    # producer 7 continues after sequence 1 (2 and 3 were cut), its resend of 1 is a duplicate;
    # producer 8 wrote only past the cut, so it is unknown again and may start anywhere
    assert partition.append_as_leader(_batch(1), T0).first_offset == 1
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(_batch(3), T0)
    assert partition.append_as_leader(_batch(2), T0).first_offset == 2
    assert partition.append_as_leader(_batch(9, pid=8), T0).first_offset == 3
    partition.log.close()


def test_truncation_past_a_full_window_rebuilds_from_the_log(tmp_path: Path) -> None:
    partition = _follower(tmp_path)
    for i in range(7):
        partition.append_as_follower(bytes(_batch(i, offset=i)), 7, T0)
    partition.truncate_as_follower(3, T0)  # batches 0-1 were evicted from the window: only the log has them
    partition.make_leader(2, (1, 2), (1, 2), T0)
    resent = partition.append_as_leader(_batch(0), T0)
    assert (resent.first_offset, partition.log.log_end_offset) == (0, 3)
    partition.log.close()


def test_truncation_into_a_previous_producer_epoch_restores_it(tmp_path: Path) -> None:
    partition = _follower(tmp_path)
    partition.append_as_follower(bytes(_batch(0, offset=0)), 1, T0)
    partition.append_as_follower(bytes(_batch(1, offset=1)), 2, T0)
    partition.append_as_follower(bytes(_batch(0, epoch=1, offset=2)), 3, T0)
    partition.truncate_as_follower(2, T0)
    partition.make_leader(2, (1, 2), (1, 2), T0)
    assert partition.append_as_leader(_batch(1), T0).first_offset == 1  # epoch 0 is known again
    partition.log.close()


def test_rebuild_skips_segments_older_than_the_producer_expiration(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=100)  # one 70-byte batch per segment
    partition = _follower(tmp_path, config)
    partition.append_as_follower(bytes(_batch(0, pid=5, offset=0, ts=T0 - 2 * DAY_MS)), 1, T0)
    partition.append_as_follower(bytes(_batch(0, pid=7, offset=1, ts=T0 - 2 * DAY_MS)), 2, T0)
    partition.append_as_follower(bytes(_batch(1, pid=7, offset=2, ts=T0)), 3, T0)
    assert len(partition.log.segments) == 3
    headers = list(partition.log.batch_headers(0, newer_than_ms=T0 - DAY_MS))
    assert [h.base_offset for h in headers] == [2]
    partition.rebuild_producer_state(T0)
    assert len(partition.producer_state) == 1  # producer 5 wrote only two days ago: expired
    partition.make_leader(2, (1, 2), (1, 2), T0)
    assert partition.append_as_leader(_batch(1, pid=7), T0).first_offset == 2  # still deduped
    partition.log.close()


def test_batch_headers_read_every_batch_header_in_order(tmp_path: Path) -> None:
    partition = _follower(tmp_path, LogConfig(segment_bytes=300))
    for i in range(10):
        partition.append_as_follower(bytes(_batch(i, offset=i)), i + 1, T0)
    assert [h.base_offset for h in partition.log.batch_headers(0)] == list(range(10))
    assert [h.base_offset for h in partition.log.batch_headers(6)] == [6, 7, 8, 9]
    partition.log.close()


def test_remove_expired_drops_idle_producers_only() -> None:
    state = ProducerStateManager(producer_id_expiration_ms=1000)
    state.record(parse_header(_batch(0, pid=1)), 0, now_ms=T0)
    state.record(parse_header(_batch(0, pid=2)), 1, now_ms=T0 + 900)
    assert state.remove_expired(T0 + 1500) == 1
    assert len(state) == 1
