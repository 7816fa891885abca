"""A partition's transactions: producer state opens and completes them, the last stable offset follows
open and unreplicated transactions, aborts are indexed, followers rebuild the same from what they fetch."""

from __future__ import annotations

import pytest

from brook.common.errors import InvalidProducerEpoch, InvalidRecord
from brook.common.txn_errors import InvalidTxnState, TransactionCoordinatorFenced
from brook.common.types import TopicPartition
from brook.records.control import ControlType, EndTxnMarker
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.storage.producer_state import ProducerStateManager
from brook.storage.txn_index import AbortedTxn
from brook.testing import MemoryLog, make_batch

COMMIT = EndTxnMarker(ControlType.COMMIT, 0)
ABORT = EndTxnMarker(ControlType.ABORT, 0)


def _leader(isr: tuple[int, ...] = (0,)) -> Partition:
    replicas = (0, 1) if len(isr) > 1 else (0,)
    partition = Partition(TopicPartition("t", 0), MemoryLog(), LogConfig(), 0, 0, 0, replicas, isr)
    partition.make_leader(0, replicas, isr, now_ms=0)
    return partition


def _txn(pid: int, seq: int, count: int = 1, epoch: int = 0, *, transactional: bool = True) -> bytearray:
    records = [(None, b"v%d" % (seq + i)) for i in range(count)]
    return bytearray(
        make_batch(
            records, producer_id=pid, producer_epoch=epoch, base_sequence=seq, transactional=transactional
        )
    )


def test_open_transactions_hold_the_last_stable_offset() -> None:
    partition = _leader()
    partition.append_as_leader(bytearray(make_batch([(None, b"plain")])), now_ms=0)  # 0
    partition.append_as_leader(_txn(7, 0, 2), now_ms=0)  # 1-2
    partition.append_as_leader(_txn(8, 0), now_ms=0)  # 3
    partition.append_as_leader(_txn(7, 2), now_ms=0)  # 4 (same transaction: still starts at 1)
    assert (partition.log.high_watermark, partition.last_stable_offset) == (5, 1)
    partition.append_txn_marker(7, 0, COMMIT, now_ms=0)  # 5
    assert partition.last_stable_offset == 3
    partition.append_txn_marker(8, 0, ABORT, now_ms=0)  # 6
    assert partition.last_stable_offset == 7 == partition.log.high_watermark
    assert partition.log.collect_aborted_txns(0, 7) == [AbortedTxn(8, 3, 6, 7)]


def test_a_completed_transaction_is_stable_only_once_the_high_watermark_passes_its_marker() -> None:
    partition = _leader(isr=(0, 1))
    partition.append_as_leader(_txn(7, 0), now_ms=0)  # 0
    partition.append_txn_marker(7, 0, ABORT, now_ms=0)  # 1
    assert partition.log.high_watermark == 0  # the follower has nothing yet
    assert partition.last_stable_offset == 0
    partition.record_follower_fetch(1, 1, now_ms=0)  # the follower has the data, not the marker
    assert (partition.log.high_watermark, partition.last_stable_offset) == (1, 0)
    partition.record_follower_fetch(1, 2, now_ms=0)
    assert (partition.log.high_watermark, partition.last_stable_offset) == (2, 2)


def test_aborted_index_entry_records_the_lso_after_it() -> None:
    partition = _leader()
    partition.append_as_leader(_txn(7, 0), now_ms=0)  # 0
    partition.append_as_leader(_txn(8, 0), now_ms=0)  # 1, still open after 7 aborts
    partition.append_txn_marker(7, 0, ABORT, now_ms=0)  # 2
    assert partition.log.collect_aborted_txns(0, 10) == [AbortedTxn(7, 0, 2, 1)]


def test_producer_rules_for_transactions() -> None:
    partition = _leader()
    partition.append_as_leader(_txn(7, 0), now_ms=0)
    with pytest.raises(InvalidTxnState):
        partition.append_as_leader(_txn(7, 1, transactional=False), now_ms=0)
    partition.append_txn_marker(7, 0, EndTxnMarker(ControlType.ABORT, 5), now_ms=0)
    with pytest.raises(TransactionCoordinatorFenced):
        partition.append_txn_marker(7, 0, EndTxnMarker(ControlType.COMMIT, 4), now_ms=0)
    partition.append_txn_marker(7, 1, EndTxnMarker(ControlType.ABORT, 5), now_ms=0)  # a bumped epoch
    with pytest.raises(InvalidProducerEpoch):
        partition.append_txn_marker(7, 0, EndTxnMarker(ControlType.ABORT, 5), now_ms=0)
    with pytest.raises(InvalidProducerEpoch):
        partition.append_as_leader(_txn(7, 0, epoch=0), now_ms=0)
    partition.append_as_leader(_txn(7, 0, epoch=1), now_ms=0)  # the new epoch starts at sequence 0
    with pytest.raises(InvalidRecord, match="control"):
        partition.append_as_leader(bytearray(make_batch([(b"k", b"v")], control=True)), now_ms=0)


def test_a_marker_without_data_completes_nothing() -> None:
    partition = _leader()
    partition.append_txn_marker(9, 0, ABORT, now_ms=0)
    partition.append_txn_marker(-1, -1, COMMIT, now_ms=0)  # no producer id: no producer state either
    assert partition.log.collect_aborted_txns(0, 10) == []
    assert partition.last_stable_offset == 2
    assert [p.producer_id for p in partition.producer_state.producers()] == [9]


def test_a_follower_rebuilds_the_same_state_from_what_it_fetches() -> None:
    leader = _leader()
    leader.append_as_leader(_txn(7, 0, 3), now_ms=0)
    leader.append_as_leader(_txn(8, 0), now_ms=0)
    leader.append_txn_marker(7, 0, ABORT, now_ms=0)
    follower = Partition(TopicPartition("t", 0), MemoryLog(), LogConfig(), 1, 0, 0, (0, 1), (0, 1))
    data = leader.log.read(0, max_bytes=1 << 20).to_bytes()
    follower.append_as_follower(data, leader.log.high_watermark, now_ms=0)
    assert follower.log.collect_aborted_txns(0, 10) == leader.log.collect_aborted_txns(0, 10)
    assert follower.producer_state.producers() == leader.producer_state.producers()
    # and so does a replay of its log (a restart without snapshot)
    rebuilt = ProducerStateManager()
    follower.producer_state = rebuilt
    follower.rebuild_producer_state(now_ms=0)
    assert rebuilt.producers() == leader.producer_state.producers()
    assert follower.log.collect_aborted_txns(0, 10) == [AbortedTxn(7, 0, 4, 3)]


def test_open_transactions_never_expire_and_truncation_replays_the_log() -> None:
    partition = _leader()
    partition.producer_state = ProducerStateManager(producer_id_expiration_ms=1000)
    partition.append_as_leader(_txn(7, 0), now_ms=0)
    partition.append_as_leader(_txn(8, 0), now_ms=0)
    partition.append_txn_marker(8, 0, COMMIT, now_ms=0)
    assert partition.producer_state.remove_expired(now_ms=10_000) == 1  # 8 went, 7 is open
    assert partition.last_stable_offset == 0
    assert partition.producer_state.truncate_from(1) is False  # transactions: only the log can tell


def test_a_follower_truncation_below_no_marker_is_undone_in_place() -> None:
    leader = _leader()
    leader.append_as_leader(_txn(7, 0), now_ms=0)  # 0
    leader.append_txn_marker(7, 0, COMMIT, now_ms=0)  # 1
    leader.append_as_leader(_txn(8, 0), now_ms=0)  # 2: 8's transaction, about to be cut
    follower = Partition(TopicPartition("t", 0), MemoryLog(), LogConfig(), 1, 0, 0, (0, 1), (0, 1))
    follower.append_as_follower(leader.log.read(0, max_bytes=1 << 20).to_bytes(), 0, now_ms=0)
    assert follower.last_stable_offset == 0  # HW 0 here
    follower.log.update_high_watermark(2)
    assert follower.last_stable_offset == 2
    assert follower.producer_state.truncate_from(2) is True  # no marker cut: exact in place
    follower.log.truncate_to(2)
    follower.log.update_high_watermark(2)
    assert follower.last_stable_offset == 2  # 8's transaction is gone with its batch
    assert [p.producer_id for p in follower.producer_state.producers()] == [7]
    assert follower.producer_state.truncate_from(1) is False  # would cut 7's marker: replay the log
