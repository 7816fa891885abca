"""Producer state survives a clean restart through `producer-snapshot` (no log replay), is rebuilt from the
log when the snapshot does not match it, and producers idle past producer.id.expiration.ms are forgotten
(real ReplicaManager over a real LogManager)."""

from __future__ import annotations

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
from brook.storage.producer_snapshot import PRODUCER_SNAPSHOT
from brook.testing import make_batch

TP = TopicPartition("t", 0)
TOPIC = TopicState("t", uuid.uuid4(), {0: PartitionState(0, (0,), 0, 1, (0,))})


def _batch(seq: int, pid: int = 7) -> bytearray:
    return bytearray(make_batch([(None, b"v%d" % seq)], producer_id=pid, producer_epoch=0, base_sequence=seq))


def _start(path: Path, clock: FakeClock, *, expiration_ms: int = 86_400_000) -> ReplicaManager:
    replicas = ReplicaManager(0, LogManager([path], clock), clock, producer_id_expiration_ms=expiration_ms)
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
    assert (tmp_path / "t-0" / PRODUCER_SNAPSHOT).exists()
    with monkeypatch.context() as patch:
        _no_replay(patch)
        replicas = _start(tmp_path, clock)
    assert not (tmp_path / "t-0" / PRODUCER_SNAPSHOT).exists()  # a later crash must not trust it
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
    path = tmp_path / "t-0" / PRODUCER_SNAPSHOT
    path.write_bytes(path.read_bytes()[:20])
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
