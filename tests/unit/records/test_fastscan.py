"""The C record scan (records/_fastscan.c) only ever accepts what the Python scan accepts, and stops where
the Python scan would take over: on every batch, well-formed or mangled, validating with it and without
it gives the same outcome (the same records accepted, or the same error and message)."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from brook.common.errors import BrookError
from brook.records import record_scan
from brook.records.batch import BATCH_HEADER_SIZE, validate_batches
from brook.records.records import Record, encode_records
from brook.records.validator import ValidationPolicy, validate_records
from brook.testing.batches import DEFAULT_TIMESTAMP_MS

_HEADER = struct.Struct(">qiibIhiqqqhii")
_C_SCAN = record_scan._scan_plain


def _batch(section: bytes, count: int) -> bytearray:
    buf = bytearray(BATCH_HEADER_SIZE) + section
    _HEADER.pack_into(
        buf, 0, 0, len(buf) - 12, -1, 2, 0, 0, count - 1, DEFAULT_TIMESTAMP_MS, DEFAULT_TIMESTAMP_MS,
        -1, 0, -1, count,
    )  # fmt: skip
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[21:]))
    return buf


def _outcome(batch: bytearray) -> str:
    try:
        validate_records(batch, validate_batches(batch), ValidationPolicy(), DEFAULT_TIMESTAMP_MS)
    except BrookError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "accepted"


def _both(batch: bytearray) -> tuple[str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(record_scan, "_scan_plain", _C_SCAN)
        with_c = _outcome(batch)
        patch.setattr(record_scan, "_scan_plain", None)
        python_only = _outcome(batch)
    return with_c, python_only


_records = st.lists(
    st.tuples(
        st.one_of(st.none(), st.binary(max_size=300)),
        st.one_of(st.none(), st.binary(max_size=300)),
        st.lists(st.tuples(st.text(max_size=5), st.one_of(st.none(), st.binary(max_size=20))), max_size=3),
    ),
    min_size=1,
    max_size=40,
)


def _section(records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]]) -> bytes:
    return encode_records(
        [Record(i, DEFAULT_TIMESTAMP_MS + i, k, v, tuple(h)) for i, (k, v, h) in enumerate(records)],
        base_offset=0,
        base_timestamp=DEFAULT_TIMESTAMP_MS,
    )


def test_the_c_scan_is_built():
    assert _C_SCAN is not None, "brook/records/_fastscan.c is not built (make test builds it)"


@settings(max_examples=300, deadline=None)
@given(records=_records, data=st.data())
def test_mangled_batches_get_the_same_verdict_with_and_without_the_c_scan(records, data):
    section = bytearray(_section(records))
    count = len(records)
    mangling = data.draw(st.sampled_from(["none", "flip", "cut", "append", "count"]))
    if mangling == "flip":  # any byte of the records section set to any value
        for _ in range(data.draw(st.integers(1, 3))):
            section[data.draw(st.integers(0, len(section) - 1))] = data.draw(st.integers(0, 255))
    elif mangling == "cut":
        del section[data.draw(st.integers(0, len(section) - 1)) :]
    elif mangling == "append":
        section += data.draw(st.binary(min_size=1, max_size=20))
    elif mangling == "count":
        count = data.draw(st.integers(1, count + 3))
    with_c, python_only = _both(_batch(bytes(section), count))
    assert with_c == python_only
    if mangling == "none":
        assert with_c == "accepted"


@pytest.mark.parametrize(
    "section",
    [
        b"\x02\x00\x00\x00\x01\x00",  # a one-byte record too short for its fields
        b"\x14\x00\x00\x00" + b"\xff" * 20,  # varints longer than the record
        b"\x0c\x00\x00\x00\x01\x01\x01\x00" + b"\x80" * 11 + b"\x01",  # an 11-byte varint
        b"\x0a\x00\x00\x02\x01\x01\x00",  # offset delta 1 for record 0
        b"\x0c\x00\x00\x00\x01\x01\x02\x01\x00\x00",  # a header count the record cannot hold
        b"\x10\x00\x00\x00\x01\x02v\x00\x00",  # fields end a byte before the record's length
        b"\x12\x00\x00\x00\x01\x02v\x02\x01\x01",  # a header key of length -1
    ],
)
def test_hand_made_bad_records_get_the_python_scans_error(section):
    with_c, python_only = _both(_batch(section, 1))
    assert with_c == python_only
    assert with_c != "accepted"


def test_the_c_scan_stops_at_the_first_record_it_does_not_accept():
    good = _section([(b"k", b"v", []), (None, b"w", [])])
    first_length = good[0] >> 1
    section = good + b"\x02\x00"  # a third record cut short
    assert _C_SCAN is not None
    assert _C_SCAN(section, 0, 0, 3) == (len(good), 2)
    assert _C_SCAN(section, 0, 0, 1) == (1 + first_length, 1)  # stops at the count
    assert _C_SCAN(section, 1 + first_length, 0, 3) == (1 + first_length, 0)  # record 1 at index 0: delta
