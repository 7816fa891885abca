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
    indexes.append(AbortedTxn(9, 101, 110, 111), bases)  # not after the last one: refused, logged
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


def test_file_log_keeps_its_txnindex_with_its_segments(tmp_path: Path) -> None:
    from brook.common.clock import FakeClock
    from brook.storage.api import LogConfig
    from brook.storage.log import FileLog
    from brook.testing import make_batch

    t0 = 1_700_000_000_000
    clock = FakeClock(t0)
    config = LogConfig(retention_ms=1000, file_delete_delay_ms=0)
    log = FileLog.open(tmp_path / "t-0", config, clock=clock)
    for _ in range(3):
        log.append_as_leader(make_batch([(None, b"x")], timestamp=t0), leader_epoch=0)
    log.append_aborted_txn(AbortedTxn(5, 0, 2, 3))
    first_index = tmp_path / "t-0" / "00000000000000000000.txnindex"
    assert first_index.read_bytes() == encode_entry(AbortedTxn(5, 0, 2, 3))
    log.roll()
    log.append_as_leader(make_batch([(None, b"y")], timestamp=t0 + 10_000), leader_epoch=0)  # 3
    log.append_aborted_txn(AbortedTxn(6, 3, 3, 4))
    assert log.collect_aborted_txns(0, 10) == [AbortedTxn(5, 0, 2, 3)]  # the read stays in segment 0
    assert log.collect_aborted_txns(3, 10) == [AbortedTxn(6, 3, 3, 4)]
    log.truncate_to(3)  # the second marker (3) is cut, with its segment
    assert log.aborted_txns() == [AbortedTxn(5, 0, 2, 3)]
    assert not (tmp_path / "t-0" / "00000000000000000003.txnindex").exists()
    log.roll()
    log.append_as_leader(make_batch([(None, b"z")], timestamp=t0 + 10_000), leader_epoch=0)
    log.update_high_watermark(4)
    clock.advance(5000)
    assert log.delete_old_segments(clock.now_ms()) == 1  # segment 0 passed retention.ms
    assert not first_index.exists()
    assert log.aborted_txns() == []
    log.close()
    reopened = FileLog.open(tmp_path / "t-0", config, clock=clock)
    assert reopened.aborted_txns() == []
    reopened.close()


def test_an_opened_log_reads_the_txnindex_files_its_listing_found_and_tries_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10,000-partition start tried to open a `.txnindex` for every segment it opened, almost none of which
    exist; the loader's one listing of the directory says which do."""
    from brook.common.clock import FakeClock
    from brook.storage.api import LogConfig
    from brook.storage.log import FileLog
    from brook.testing import make_batch

    clock = FakeClock(1_700_000_000_000)
    for name in ("with-0", "without-0"):
        log = FileLog.open(tmp_path / name, LogConfig(), clock=clock)
        for _ in range(3):
            log.append_as_leader(make_batch([(None, b"x")]), leader_epoch=0)
        log.roll()
        log.append_as_leader(make_batch([(None, b"y")]), leader_epoch=0)
        if name == "with-0":
            log.append_aborted_txn(AbortedTxn(5, 0, 2, 3))
        log.close()
    tried: list[str] = []
    real = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path.suffix == ".txnindex":
            tried.append(f"{path.parent.name}/{path.name}")
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    for name, clean in (("with-0", True), ("with-0", False), ("without-0", True), ("without-0", False)):
        reopened = FileLog.open(tmp_path / name, LogConfig(), clock=clock, had_clean_shutdown=clean)
        assert reopened.aborted_txns() == ([AbortedTxn(5, 0, 2, 3)] if name == "with-0" else [])
        reopened.close()
    assert tried == ["with-0/00000000000000000000.txnindex"] * 2
