"""Producer state survives a clean restart through the log dir's `producer-snapshots` (no log replay), is
rebuilt from the log when the snapshot does not match it or has no entry for the partition, and producers
idle past producer.id.expiration.ms are forgotten (real ReplicaManager over a real LogManager)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from brook.broker.replica_manager import ReplicaManager
from brook.common.clock import FakeClock
from brook.common.errors import OutOfOrderSequence
from brook.common.types import TopicPartition
from brook.metadata.api import PartitionState, TopicState
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager
from brook.storage.producer_snapshot import LEGACY_PRODUCER_SNAPSHOT, PRODUCER_SNAPSHOTS
from brook.testing import make_batch

TP = TopicPartition("t", 0)
TOPIC = TopicState("t", uuid.uuid4(), {0: PartitionState(0, (0,), 0, 1, (0,))})


def _batch(seq: int, pid: int = 7) -> bytearray:
    return bytearray(make_batch([(None, b"v%d" % seq)], producer_id=pid, producer_epoch=0, base_sequence=seq))


def _start(path: Path, clock: FakeClock, *, expiration_ms: int = 86_400_000) -> ReplicaManager:
    log_manager = LogManager([path], clock)
    log_manager.load()  # as the broker's start does: reads (and deletes) the dir's producer-snapshots
    replicas = ReplicaManager(0, log_manager, clock, producer_id_expiration_ms=expiration_ms)
    replicas.sync_with({"t": TOPIC}, {"t": LogConfig()})
    return replicas


def _stop(replicas: ReplicaManager, *, snapshots: bool = True) -> None:
    replicas.close()
    if snapshots:
        replicas.write_producer_snapshots()
    replicas.log_manager.close()


def _no_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    def replay(self: Partition, now_ms: int) -> None:
        raise AssertionError("the snapshot should have spared the log replay")

    monkeypatch.setattr(Partition, "rebuild_producer_state", replay)


def test_clean_restart_restores_producer_state_from_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    replicas = _start(tmp_path, clock)
    for seq in range(3):
        replicas.partitions[TP].append_as_leader(_batch(seq), clock.now_ms())
    _stop(replicas)
    assert (tmp_path / PRODUCER_SNAPSHOTS).exists()
    assert not (
        tmp_path / "t-0" / LEGACY_PRODUCER_SNAPSHOT
    ).exists()  # one file per log dir, none per partition
    with monkeypatch.context() as patch:
        _no_replay(patch)
        replicas = _start(tmp_path, clock)
    assert not (tmp_path / PRODUCER_SNAPSHOTS).exists()  # a later crash must not trust it
    partition = replicas.partitions[TP]
    assert partition.append_as_leader(_batch(1), clock.now_ms()).first_offset == 1  # a resend: deduped
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(_batch(5), clock.now_ms())
    assert partition.append_as_leader(_batch(3), clock.now_ms()).first_offset == 3
    _stop(replicas)


def test_a_snapshot_that_does_not_match_the_log_is_ignored_and_the_log_replayed(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = _start(tmp_path, clock)
    partition = replicas.partitions[TP]
    partition.append_as_leader(_batch(0), clock.now_ms())
    replicas.write_producer_snapshots()  # taken at offset 1 ...
    partition.append_as_leader(_batch(1), clock.now_ms())  # ... then the log moved on (a crash follows)
    _stop(replicas, snapshots=False)
    replicas = _start(tmp_path, clock)
    partition = replicas.partitions[TP]
    assert partition.append_as_leader(_batch(1), clock.now_ms()).first_offset == 1  # known from the log
    assert partition.log.log_end_offset == 2
    _stop(replicas)


def test_a_torn_snapshot_is_ignored(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = _start(tmp_path, clock)
    replicas.partitions[TP].append_as_leader(_batch(0), clock.now_ms())
    _stop(replicas)
    path = tmp_path / PRODUCER_SNAPSHOTS
    path.write_bytes(path.read_bytes()[:40])
    replicas = _start(tmp_path, clock)
    assert replicas.partitions[TP].append_as_leader(_batch(0), clock.now_ms()).first_offset == 0
    assert replicas.partitions[TP].log.log_end_offset == 1
    _stop(replicas)


def test_idle_producers_expire_after_producer_id_expiration_ms(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = _start(tmp_path, clock, expiration_ms=60_000)
    partition = replicas.partitions[TP]
    partition.append_as_leader(_batch(0, pid=1), clock.now_ms())
    clock.advance(30_000)
    partition.append_as_leader(_batch(0, pid=2), clock.now_ms())
    clock.advance(40_000)
    assert replicas.remove_expired_producers() == 1  # producer 1 idle 70 s, producer 2 only 40 s
    assert len(partition.producer_state) == 1
    partition.append_as_leader(_batch(9, pid=1), clock.now_ms())  # unknown again: any sequence
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(_batch(9, pid=2), clock.now_ms())
    _stop(replicas)


def test_the_snapshot_keeps_open_transactions_and_coordinator_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brook.common.txn_errors import TransactionCoordinatorFenced
    from brook.records.control import ControlType, EndTxnMarker

    clock = FakeClock()
    replicas = _start(tmp_path, clock)
    partition = replicas.partitions[TP]
    txn = make_batch([(None, b"t")], producer_id=7, producer_epoch=0, base_sequence=0, transactional=True)
    partition.append_as_leader(bytearray(txn), clock.now_ms())  # 0: 7's transaction
    other = make_batch([(None, b"o")], producer_id=8, producer_epoch=0, base_sequence=0, transactional=True)
    partition.append_as_leader(bytearray(other), clock.now_ms())  # 1
    partition.append_txn_marker(8, 0, EndTxnMarker(ControlType.COMMIT, 3), clock.now_ms())  # 2
    assert partition.last_stable_offset == 0
    _stop(replicas)
    with monkeypatch.context() as patch:
        _no_replay(patch)
        replicas = _start(tmp_path, clock)
    partition = replicas.partitions[TP]
    assert partition.last_stable_offset == 0  # 7's transaction is still open
    with pytest.raises(TransactionCoordinatorFenced):
        partition.append_txn_marker(8, 0, EndTxnMarker(ControlType.ABORT, 2), clock.now_ms())
    partition.append_txn_marker(7, 0, EndTxnMarker(ControlType.ABORT, 3), clock.now_ms())  # 3
    assert partition.last_stable_offset == 4
    _stop(replicas)


TWO = TopicState(
    "t", TOPIC.topic_id, {p: PartitionState(p, (0,), 0, 1, (0,)) for p in (0, 1)}
)  # fmt: skip


def _replays(monkeypatch: pytest.MonkeyPatch) -> list[TopicPartition]:
    """Records which partitions rebuild their producer state from the log (and still lets them)."""
    replayed: list[TopicPartition] = []
    replay = Partition.rebuild_producer_state

    def recording(self: Partition, now_ms: int) -> None:
        replayed.append(self.tp)
        replay(self, now_ms)

    monkeypatch.setattr(Partition, "rebuild_producer_state", recording)
    return replayed


def _start_two(paths: list[Path], clock: FakeClock, topic: TopicState = TWO) -> ReplicaManager:
    log_manager = LogManager(paths, clock)
    log_manager.load()
    replicas = ReplicaManager(0, log_manager, clock)
    replicas.sync_with({"t": topic}, {"t": LogConfig()})
    return replicas


def test_a_partition_without_an_entry_replays_its_log_and_the_others_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log loaded but not hosted at the clean close gets no entry: at the next start it replays (a missing
    entry never means "no producers"), while the partitions that had one restore theirs."""
    clock = FakeClock()
    replicas = _start_two([tmp_path], clock)
    for p in (0, 1):
        replicas.partitions[TopicPartition("t", p)].append_as_leader(_batch(0, pid=10 + p), clock.now_ms())
    _stop(replicas)
    only_first = TopicState(
        "t", TOPIC.topic_id, {0: TWO.partitions[0], 1: PartitionState(1, (5,), 5, 1, (5,))}
    )
    replicas = _start_two([tmp_path], clock, only_first)  # t-1 moved away: loaded, not hosted
    assert TopicPartition("t", 1) not in replicas.partitions
    _stop(replicas)
    with monkeypatch.context() as patch:
        replayed = _replays(patch)
        replicas = _start_two([tmp_path], clock)
    assert replayed == [TopicPartition("t", 1)]
    for p in (0, 1):
        partition = replicas.partitions[TopicPartition("t", p)]
        assert partition.append_as_leader(_batch(0, pid=10 + p), clock.now_ms()).first_offset == 0  # deduped
        with pytest.raises(OutOfOrderSequence):
            partition.append_as_leader(_batch(5, pid=10 + p), clock.now_ms())
    _stop(replicas)


def test_a_start_that_writes_no_snapshots_makes_the_next_one_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is read and deleted at load: a close that writes none (an abandoned start) leaves nothing a
    later start could trust, even though the logs were closed cleanly."""
    clock = FakeClock()
    replicas = _start(tmp_path, clock)
    replicas.partitions[TP].append_as_leader(_batch(0), clock.now_ms())
    _stop(replicas)
    replicas = _start(tmp_path, clock)
    _stop(replicas, snapshots=False)
    with monkeypatch.context() as patch:
        replayed = _replays(patch)
        replicas = _start(tmp_path, clock)
    assert replayed == [TP]
    assert replicas.partitions[TP].append_as_leader(_batch(0), clock.now_ms()).first_offset == 0
    _stop(replicas)


def test_each_log_dir_keeps_the_snapshots_of_its_own_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    dirs = [tmp_path / "a", tmp_path / "b"]
    replicas = _start_two(dirs, clock)
    for p in (0, 1):
        replicas.partitions[TopicPartition("t", p)].append_as_leader(_batch(p, pid=3), clock.now_ms())
    _stop(replicas)
    held = {d.name: sorted(json.loads((d / PRODUCER_SNAPSHOTS).read_text())["partitions"]) for d in dirs}
    assert held == {"a": ["t-0"], "b": ["t-1"]}
    with monkeypatch.context() as patch:
        _no_replay(patch)
        replicas = _start_two(dirs, clock)
    assert [(d / PRODUCER_SNAPSHOTS).exists() for d in dirs] == [False, False]
    with pytest.raises(OutOfOrderSequence):
        replicas.partitions[TopicPartition("t", 0)].append_as_leader(_batch(2, pid=3), clock.now_ms())
    _stop(replicas)


def test_an_older_releases_per_partition_snapshot_is_removed_and_never_trusted(tmp_path: Path) -> None:
    """Before one file per log dir, each partition directory held `producer-snapshot`. One left over (here it
    claims no producers at the log's end offset) is deleted at load, and the partition replays its log."""
    clock = FakeClock()
    replicas = _start(tmp_path, clock)
    replicas.partitions[TP].append_as_leader(_batch(0), clock.now_ms())
    _stop(replicas, snapshots=False)
    legacy = tmp_path / "t-0" / LEGACY_PRODUCER_SNAPSHOT
    legacy.write_text('{"version": 1, "log_end_offset": 1, "producers": []}')
    replicas = _start(tmp_path, clock)
    assert not legacy.exists()
    assert replicas.partitions[TP].append_as_leader(_batch(0), clock.now_ms()).first_offset == 0  # deduped
    _stop(replicas)
