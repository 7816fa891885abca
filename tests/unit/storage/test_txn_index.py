"""The .txnindex file: Kafka's AbortedTxn layout (34 bytes: version int16, producer_id, first_offset,
last_offset, last_stable_offset as int64, big-endian), per segment, loaded, truncated and replaced."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from brook.storage.txn_index import AbortedTxn, TransactionIndexes, decode_entries, encode_entry


def test_entry_is_kafkas_34_byte_aborted_txn() -> None:
    txn = AbortedTxn(producer_id=0x0102030405060708, first_offset=10, last_offset=20, last_stable_offset=21)
    data = encode_entry(txn)
    assert len(data) == 34
    assert data == struct.pack(">h", 0) + struct.pack(">qqqq", 0x0102030405060708, 10, 20, 21)
    assert decode_entries(data + data) == [txn, txn]


def test_a_torn_last_entry_is_dropped_and_an_unknown_version_refused() -> None:
    txn = AbortedTxn(1, 2, 3, 4)
    assert decode_entries(encode_entry(txn) + encode_entry(txn)[:20]) == [txn]
    with pytest.raises(ValueError, match="version"):
        decode_entries(struct.pack(">hqqqq", 1, 1, 2, 3, 4))


def test_entries_go_to_the_segment_of_their_marker_and_survive_a_reload(tmp_path: Path) -> None:
    bases = [0, 100]
    indexes = TransactionIndexes(tmp_path, bases)
    early = AbortedTxn(7, 5, 50, 51)
    spanning = AbortedTxn(8, 90, 120, 121)  # began in segment 0, aborted in segment 100
    indexes.append(early, bases)
    indexes.append(spanning, bases)
    assert (tmp_path / "00000000000000000000.txnindex").read_bytes() == encode_entry(early)
    assert (tmp_path / "00000000000000000100.txnindex").read_bytes() == encode_entry(spanning)
    with pytest.raises(ValueError, match="not after"):
        indexes.append(AbortedTxn(9, 101, 110, 111), bases)
    reloaded = TransactionIndexes(tmp_path, bases)
    assert reloaded.all_entries() == [early, spanning]
    # a fetch from 60 up to 200 overlaps only the spanning one; from 0 up to 90 only the early one
    assert reloaded.collect(60, 200, bases) == [spanning]
    assert reloaded.collect(0, 90, bases) == [early]
    assert reloaded.collect(121, 200, bases) == []


def test_truncation_replace_and_removal(tmp_path: Path) -> None:
    bases = [0, 100]
    indexes = TransactionIndexes(tmp_path, bases)
    a, b, c = AbortedTxn(1, 0, 10, 11), AbortedTxn(2, 20, 30, 31), AbortedTxn(3, 100, 110, 111)
    for txn in (a, b, c):
        indexes.append(txn, bases)
    indexes.truncate_to(30)  # the marker at 30 is cut: b and c go
    assert indexes.all_entries() == [a]
    assert not (tmp_path / "00000000000000000100.txnindex").exists()
    indexes.replace_from(5, [b, c], bases)  # a replay from 5 found b and c (a's marker is at 10: dropped)
    assert TransactionIndexes(tmp_path, bases).all_entries() == [b, c]
    indexes.remove(0)
    assert not (tmp_path / "00000000000000000000.txnindex").exists()
    assert TransactionIndexes(tmp_path, bases).all_entries() == [c]
