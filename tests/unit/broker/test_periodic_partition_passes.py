"""The ReplicaManager's periodic passes over every hosted partition, at thousands of partitions: the HW checkpoint
walks them on a worker thread and writes a log dir's file only when its HWs changed; the ISR expiration pass
skips partitions whose ISR is this broker alone, and still shrinks the ones it must."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from brook.broker import high_watermarks as hw_module
from brook.broker.replica_manager import ReplicaManager
from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.metadata.api import PartitionState, TopicState
from brook.storage.api import LogConfig
from brook.storage.high_watermark_checkpoint import REPLICATION_OFFSET_CHECKPOINT, read_high_watermarks
from brook.storage.manager import LogManager
from brook.testing import make_batch
from tests.fixtures.held_writer import HeldFirstWriter

ALONE = TopicPartition("alone", 0)
SHARED = TopicPartition("shared", 0)


def _manager(tmp_path: Path, clock: FakeClock) -> ReplicaManager:
    """Broker 0 leads alone/0..2 (ISR: itself) and shared/0 (ISR with broker 1)."""
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock, replica_lag_time_max_ms=1000)
    alone = TopicState("alone", uuid.uuid4(), {p: PartitionState(p, (0,), 0, 1, (0,)) for p in range(3)})
    shared = TopicState("shared", uuid.uuid4(), {0: PartitionState(0, (0, 1), 0, 2, (0, 1))})
    replicas.sync_with({"alone": alone, "shared": shared}, {"alone": LogConfig(), "shared": LogConfig()})
    return replicas


async def test_the_hw_checkpoint_is_rewritten_only_when_a_hw_changed(tmp_path: Path) -> None:
    replicas = _manager(tmp_path, FakeClock())
    path = tmp_path / REPLICATION_OFFSET_CHECKPOINT
    await replicas.high_watermarks.write()
    assert read_high_watermarks(tmp_path) == {
        TopicPartition("alone", 0): 0,
        TopicPartition("alone", 1): 0,
        TopicPartition("alone", 2): 0,
        SHARED: 0,
    }
    first = path.stat().st_ino  # written to a temporary file and renamed: a rewrite is a new inode

    await replicas.high_watermarks.write()
    assert path.stat().st_ino == first  # nothing changed: not rewritten (and not fsynced)

    replicas.append_records(ALONE, bytearray(make_batch([(None, b"a"), (None, b"b")])))
    assert replicas.partitions[ALONE].log.high_watermark == 2  # the ISR is the leader alone
    await replicas.high_watermarks.write()
    assert path.stat().st_ino != first
    assert read_high_watermarks(tmp_path)[ALONE] == 2
    replicas.close()


async def test_a_checkpoint_that_failed_is_written_on_the_next_pass(tmp_path: Path) -> None:
    replicas = _manager(tmp_path, FakeClock())
    path = tmp_path / REPLICATION_OFFSET_CHECKPOINT
    path.mkdir()  # the rename onto it fails
    await replicas.high_watermarks.write()
    path.rmdir()
    await replicas.high_watermarks.write()  # nothing changed since, but the file does not say it yet
    assert read_high_watermarks(tmp_path)[ALONE] == 0
    replicas.close()


async def test_the_final_checkpoint_waits_for_a_periodic_write_still_on_its_thread(
    tmp_path: Path, monkeypatch
) -> None:
    """stop() cancels the periodic pass, whose thread goes on writing, then writes the final checkpoint: the
    two never write the (shared) temporary file at once, and the file ends with the newest HWs."""
    replicas = _manager(tmp_path, FakeClock())
    writer = HeldFirstWriter(hw_module.write_high_watermarks)
    monkeypatch.setattr(hw_module, "write_high_watermarks", writer)
    periodic = asyncio.create_task(replicas.high_watermarks.write())
    assert await asyncio.to_thread(writer.first_inside.wait, 10)
    periodic.cancel()  # as stop() cancels the background passes; the thread is not interrupted
    replicas.append_records(ALONE, bytearray(make_batch([(None, b"a"), (None, b"b")])))
    final = asyncio.create_task(replicas.high_watermarks.write())
    # a second writer beside the held one would get in at once; give it half a second to show itself
    overlapped = await asyncio.to_thread(writer.second_inside.wait, 0.5)
    writer.release()
    await final
    assert not overlapped
    assert writer.most_inside == 1
    assert read_high_watermarks(tmp_path)[ALONE] == 2
    replicas.close()


async def test_the_isr_expiration_pass_shrinks_a_shared_isr_beside_partitions_led_alone(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    replicas = _manager(tmp_path, clock)
    proposals: list[tuple[TopicPartition, int, tuple[int, ...]]] = []

    async def writer(tp: TopicPartition, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        proposals.append((tp, leader_epoch, isr))
        return True

    replicas.isr_writer = writer
    clock.advance(5000)  # follower 1 has not fetched for longer than replica.lag.time.max.ms
    replicas.maybe_shrink_isrs()
    for _ in range(3):
        await asyncio.sleep(0)
    assert proposals == [(SHARED, 2, (0,))]
    assert replicas.partitions[SHARED].isr == (0,)
    assert all(replicas.partitions[TopicPartition("alone", p)].isr == (0,) for p in range(3))
    replicas.close()
