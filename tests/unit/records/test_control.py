"""Control batches: Kafka's end-transaction marker layout, built by the broker and read back."""

from __future__ import annotations

import struct

import pytest

from brook.common.errors import CorruptMessage
from brook.records.batch import parse_header, validate_batches
from brook.records.control import ControlType, EndTxnMarker, build_end_txn_marker, parse_end_txn_marker
from brook.records.records import Record, build_batch, decode_records


def test_marker_batch_has_kafkas_layout() -> None:
    data = build_end_txn_marker(42, 3, EndTxnMarker(ControlType.ABORT, 7), timestamp_ms=1000)
    [(_, header)] = validate_batches(data)  # whole, with a valid CRC
    assert header.attributes == 0x30
    assert (header.is_control, header.is_transactional) == (True, True)
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (42, 3, -1)
    assert (header.base_offset, header.last_offset_delta, header.records_count) == (0, 0, 1)
    [record] = decode_records(data, header)
    assert record.key == struct.pack(">hh", 0, 0)  # version 0, type ABORT
    assert record.value == struct.pack(">hi", 0, 7)  # version 0, coordinator epoch
    assert record.timestamp == 1000
    # byte for byte what the generic batch builder makes of the same record
    generic = build_batch(
        [Record(0, 1000, record.key, record.value)],
        base_offset=0,
        attributes=0x30,
        producer_id=42,
        producer_epoch=3,
        base_sequence=-1,
    )
    assert data == generic
    assert len(data) == 78


@pytest.mark.parametrize("control_type", list(ControlType))
def test_round_trip(control_type: ControlType) -> None:
    marker = EndTxnMarker(control_type, 12)
    data = build_end_txn_marker(1, 0, marker, timestamp_ms=0)
    assert parse_end_txn_marker(data, parse_header(data)) == marker
    assert marker.is_commit == (control_type is ControlType.COMMIT)


def _control(key: bytes, value: bytes) -> bytearray:
    return build_batch([Record(0, 0, key, value)], base_offset=0, attributes=0x30, producer_id=1)


def test_newer_versions_are_read_and_other_control_types_are_no_markers() -> None:
    newer = _control(struct.pack(">hh", 1, 1) + b"extra", struct.pack(">hi", 3, 9) + b"more")
    assert parse_end_txn_marker(newer, parse_header(newer)) == EndTxnMarker(ControlType.COMMIT, 9)
    leader_change = _control(struct.pack(">hh", 0, 2), b"")
    assert parse_end_txn_marker(leader_change, parse_header(leader_change)) is None
    empty = build_batch([], base_offset=0, attributes=0x30, producer_id=1)
    assert parse_end_txn_marker(empty, parse_header(empty)) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (struct.pack(">h", 0), struct.pack(">hi", 0, 1)),  # key too short
        (struct.pack(">hh", -1, 0), struct.pack(">hi", 0, 1)),  # negative key version
        (struct.pack(">hh", 0, 1), struct.pack(">h", 0)),  # value too short
        (struct.pack(">hh", 0, 1), struct.pack(">hi", -2, 1)),  # negative value version
    ],
)
def test_corrupt_markers_are_refused(key: bytes, value: bytes) -> None:
    data = _control(key, value)
    with pytest.raises(CorruptMessage):
        parse_end_txn_marker(data, parse_header(data))
