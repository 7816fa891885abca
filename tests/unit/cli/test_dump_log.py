"""`brook dump-log` on segment files written by hand: batches, records, indexes and their mismatches."""

from __future__ import annotations

import json
import struct

from click.testing import CliRunner

from brook.cli.main import cli
from brook.records.batch import Compression
from brook.testing import make_batch

BASE = 100


def _segment(tmp_path, *, corrupt_crc: bool = False, tail: bytes = b""):
    first = make_batch([(b"k1", b"v1", [("h", b"x")]), (None, b"v2")], base_offset=BASE, timestamp=1000)
    second = make_batch(
        [(b"k3", b"\xff\xfe")], base_offset=BASE + 2, timestamp=2000, compression=Compression.gzip
    )
    if corrupt_crc:
        second[-1] ^= 0xFF
    log = tmp_path / f"{BASE:020d}.log"
    log.write_bytes(bytes(first) + bytes(second) + tail)
    return log, len(first)


def _run(*args):
    return CliRunner().invoke(cli, ["dump-log", *map(str, args)])


def test_log_batches_text(tmp_path):
    log, _ = _segment(tmp_path)
    result = _run(log)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Dumping {log}"
    batches = [line for line in lines if line.startswith("baseOffset:")]
    assert len(batches) == 2
    assert "baseOffset: 100 lastOffset: 101 count: 2" in batches[0]
    assert "compresscodec: gzip" in batches[1]
    assert all("isvalid: true" in b for b in batches)


def test_deep_prints_records_and_json_holds_the_same(tmp_path):
    log, _ = _segment(tmp_path)
    text = _run(log, "--deep").stdout
    assert (
        "| offset: 100 CreateTime: 1000 keySize: 2 valueSize: 2 sequence: -1 headerKeys: [h] key: k1 payload: v1"
        in text
    )
    doc = json.loads(_run(log, "--deep", "--format", "json").stdout)
    records = [r for b in doc["batches"] for r in b["records"]]
    assert [r["offset"] for r in records] == [100, 101, 102]
    assert records[1]["key"] is None
    assert records[2]["value_encoding"] == "base64"
    assert records[0]["headers"] == [{"key": "h", "value": "x", "value_encoding": "utf8"}]


def test_bad_crc_and_torn_tail_are_reported(tmp_path):
    log, _ = _segment(tmp_path, corrupt_crc=True, tail=b"\x00" * 30)
    doc = json.loads(_run(log, "-o", "json").stdout)
    assert [b["crc_valid"] for b in doc["batches"]] == [True, False]
    assert doc["invalid_bytes"] == 30
    assert "Found 30 invalid bytes" in _run(log).stdout


def test_index_entries_checked_against_the_log(tmp_path):
    log, second_pos = _segment(tmp_path)
    index = log.with_suffix(".index")
    # good entry, a position inside a batch, an offset outside its batch, then preallocated zeros
    index.write_bytes(
        struct.pack(">ii", 2, second_pos)
        + struct.pack(">ii", 1, 7)
        + struct.pack(">ii", 0, second_pos)
        + bytes(8 * 4)
    )
    doc = json.loads(_run(index, "--format", "json").stdout)
    assert doc["entries"] == [
        {"offset": 102, "position": second_pos},
        {"offset": 101, "position": 7},
        {"offset": 100, "position": second_pos},
    ]
    assert any("position 7 is not the start of a batch" in m for m in doc["mismatches"])
    assert any("offset 100 but the batch at position" in m for m in doc["mismatches"])
    text = _run(index).stdout
    assert f"offset: 102 position: {second_pos}" in text
    assert "Mismatches in" in text


def test_time_index_entries(tmp_path):
    log, _ = _segment(tmp_path)
    tindex = log.with_suffix(".timeindex")
    tindex.write_bytes(struct.pack(">qi", 1001, 0) + struct.pack(">qi", 2000, 2) + bytes(12 * 3))
    doc = json.loads(_run(tindex, "--format", "json").stdout)
    assert doc["entries"] == [{"timestamp": 1001, "offset": 100}, {"timestamp": 2000, "offset": 102}]
    assert doc["mismatches"] == []
    tindex.write_bytes(struct.pack(">qi", 1500, 2))
    assert "max timestamp is 2000" in _run(tindex).stdout


def test_unknown_file_kind_is_an_error(tmp_path):
    other = tmp_path / "x.txt"
    other.write_text("hi")
    result = _run(other)
    assert result.exit_code == 1
    assert "not a .log, .index, .timeindex or .txnindex file" in result.stderr


def test_control_batches_and_txnindex(tmp_path):
    from brook.records.control import ControlType, EndTxnMarker, build_end_txn_marker
    from brook.storage.txn_index import AbortedTxn, encode_entry

    data = make_batch(
        [(None, b"t")], base_offset=0, producer_id=5, producer_epoch=1, base_sequence=0, transactional=True
    )
    marker = build_end_txn_marker(5, 1, EndTxnMarker(ControlType.ABORT, 3), timestamp_ms=1000)
    struct.pack_into(">q", marker, 0, 1)  # its offset in the log
    log = tmp_path / f"{0:020d}.log"
    log.write_bytes(bytes(data) + bytes(marker))
    doc = json.loads(_run(log, "--format", "json").stdout)
    assert [b["is_transactional"] for b in doc["batches"]] == [True, True]
    assert [b["is_control"] for b in doc["batches"]] == [False, True]
    assert doc["batches"][1]["end_txn_marker"] == {"type": "ABORT", "coordinator_epoch": 3}
    text = _run(log, "--deep").stdout
    assert "isTransactional: true isControl: true" in text
    assert (
        "| offset: 1 CreateTime: 1000 keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] endTxnMarker: ABORT coordinatorEpoch: 3"
        in text
    )
    index = log.with_suffix(".txnindex")
    index.write_bytes(encode_entry(AbortedTxn(5, 0, 1, 2)) + b"\x00\x00")
    text = _run(index).stdout
    assert "version: 0 producerId: 5 firstOffset: 0 lastOffset: 1 lastStableOffset: 2" in text
    assert "Found 2 bytes after the last whole entry" in text
