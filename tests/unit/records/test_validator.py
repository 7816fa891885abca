"""Kafka's LogValidator rules (records/validator.py) on real batches, valid and hostile, for every codec."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
import zstandard
from crc32c import crc32c

from brook.common.errors import (
    CorruptMessage,
    ErrorCode,
    InvalidRecord,
    InvalidTimestamp,
    MessageTooLarge,
)
from brook.records import record_scan
from brook.records.batch import BATCH_HEADER_SIZE, Compression, validate_batches
from brook.records.records import Record, encode_records
from brook.records.validator import ValidationPolicy, checks_each_record, validate_records
from brook.testing.batches import DEFAULT_TIMESTAMP_MS, make_batch

NOW_MS = DEFAULT_TIMESTAMP_MS + 1000


@pytest.fixture(autouse=True, params=["c", "python"])
def scan_implementation(request, monkeypatch):
    """Every rule here holds with the C scan (_fastscan.c) in front of the Python one, and without it."""
    if request.param == "python":
        monkeypatch.setattr(record_scan, "_scan_plain", None)
    else:
        assert record_scan._scan_plain is not None, "brook/records/_fastscan.c is not built (make test)"
    return request.param


CODECS = list(Compression)
_HEADER = struct.Struct(">qiibIhiqqqhii")


def check(batch: bytes | bytearray, policy: ValidationPolicy | None = None, now_ms: int = NOW_MS) -> None:
    validate_records(batch, validate_batches(batch), policy or ValidationPolicy(), now_ms)


def raw_batch(
    records_section: bytes,
    *,
    records_count: int,
    last_offset_delta: int,
    attributes: int = 0,
    base_offset: int = 0,
    producer_id: int = -1,
    base_sequence: int = -1,
) -> bytearray:
    """A batch around arbitrary records bytes, with a valid CRC: only the deeper rules can reject it."""
    buf = bytearray(BATCH_HEADER_SIZE) + records_section
    _HEADER.pack_into(
        buf, 0, base_offset, len(buf) - 12, -1, 2, 0, attributes, last_offset_delta, DEFAULT_TIMESTAMP_MS,
        DEFAULT_TIMESTAMP_MS, producer_id, 0, base_sequence, records_count,
    )  # fmt: skip
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[21:]))
    return buf


def records_bytes(n: int, *, first_delta: int = 0, key: bytes | None = b"k") -> bytes:
    return encode_records(
        [Record(first_delta + i, DEFAULT_TIMESTAMP_MS, key, b"v%d" % i) for i in range(n)],
        base_offset=0,
        base_timestamp=DEFAULT_TIMESTAMP_MS,
    )


@pytest.mark.parametrize("codec", CODECS)
def test_well_formed_batches_pass_for_every_codec(codec):
    check(
        make_batch(
            [(b"k", b"v" * 1000, [("h", b"x"), ("n", None)]), (None, None), (b"", b"")], compression=codec
        )
    )
    check(make_batch([(b"k%d" % i, os.urandom(200)) for i in range(500)], compression=codec))


def test_the_record_count_lie_from_the_issue_is_rejected():
    batch = raw_batch(os.urandom(64), records_count=1_000_000, last_offset_delta=2**31 - 1)
    with pytest.raises(InvalidRecord) as info:
        check(batch)
    assert info.value.error_code == ErrorCode.invalid_record


@pytest.mark.parametrize(("count", "records"), [(3, 2), (2, 3), (1, 0)])
def test_the_records_section_must_hold_exactly_the_declared_records(count, records):
    batch = raw_batch(records_bytes(records), records_count=count, last_offset_delta=count - 1)
    with pytest.raises(InvalidRecord, match="declared batch size"):
        check(batch)


def test_random_records_sections_are_rejected_whatever_the_count():
    for seed in range(200):
        data = os.urandom(8 + seed % 50)
        batch = raw_batch(data, records_count=1 + seed % 4, last_offset_delta=seed % 4)
        with pytest.raises(InvalidRecord):
            check(batch)


def test_offset_deltas_must_be_consecutive():
    batch = raw_batch(records_bytes(2, first_delta=1), records_count=2, last_offset_delta=1)
    with pytest.raises(InvalidRecord, match="offset delta"):
        check(batch)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"records_count": 2, "last_offset_delta": 0}, "Inconsistent batch offset range"),
        ({"records_count": 0, "last_offset_delta": 0}, "Invalid reported count"),
        ({"records_count": 1, "last_offset_delta": 0, "attributes": 0x30}, "control records"),
        ({"records_count": 1, "last_offset_delta": 0, "base_offset": 5}, "baseOffset"),
        ({"records_count": 1, "last_offset_delta": 0, "producer_id": 7}, "Invalid sequence number"),
    ],
)
def test_header_rules_of_kafkas_validate_batch(kwargs, message):
    with pytest.raises(InvalidRecord, match=message):
        check(raw_batch(records_bytes(1), **kwargs))


def test_one_batch_per_partition():
    with pytest.raises(InvalidRecord, match="more than one batch"):
        check(make_batch([(b"k", b"v")]) + make_batch([(b"k", b"v")]))


@pytest.mark.parametrize("codec", CODECS)
def test_timestamps_outside_the_bounds_are_record_errors(codec):
    policy = ValidationPolicy(timestamp_before_max_ms=60_000, timestamp_after_max_ms=1000)
    fine = [NOW_MS - 60_000, NOW_MS, NOW_MS + 1000]
    check(make_batch([(b"k", b"v")] * 3, timestamps=fine, compression=codec), policy)
    bad = [NOW_MS - 60_001, NOW_MS, NOW_MS + 1001]
    with pytest.raises(InvalidTimestamp) as info:
        check(make_batch([(b"k", b"v")] * 3, timestamps=bad, compression=codec), policy)
    assert info.value.error_code == ErrorCode.invalid_timestamp
    assert [index for index, _ in info.value.record_errors] == [0, 2]
    assert "out of range" in (info.value.record_errors[0][1] or "")


def test_a_producer_may_not_claim_log_append_time():
    with pytest.raises(InvalidTimestamp) as info:
        check(make_batch([(b"k", b"v")], log_append_time=True), ValidationPolicy(log_append_time=True))
    assert info.value.record_errors[0][0] == 0


@pytest.mark.parametrize("codec", CODECS)
def test_compacted_topics_need_keys_per_record(codec):
    policy = ValidationPolicy(require_keys=True)
    check(make_batch([(b"a", b"1"), (b"b", None)], compression=codec), policy)
    with pytest.raises(InvalidRecord) as info:
        check(make_batch([(b"a", b"1"), (None, b"2"), (None, b"3")], compression=codec), policy)
    assert [index for index, _ in info.value.record_errors] == [1, 2]
    assert "2 record errors" in str(info.value)


def _bomb_section(codec: int, inflated_bytes: int) -> bytes:
    """One record whose value is `inflated_bytes` zeros, compressed chunk by chunk (never whole)."""
    body_prefix = bytearray(b"\x00\x00\x00\x01")  # attributes, ts delta 0, offset delta 0, key null (-1)
    value_length = inflated_bytes
    varint = bytearray()
    n = value_length << 1
    while n > 0x7F:
        varint.append((n & 0x7F) | 0x80)
        n >>= 7
    varint.append(n)
    head = bytes(body_prefix + varint)
    zeros = bytes(1024 * 1024)
    if codec == Compression.gzip:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        out = [compressor.compress(b"\xfe\xff\xff\xff\x0f" + head)]  # record length: a huge varint
        for _ in range(inflated_bytes // len(zeros)):
            out.append(compressor.compress(zeros))
        out.append(compressor.flush())
        return b"".join(out)
    assert codec == Compression.zstd
    chunker = zstandard.ZstdCompressor(level=1).chunker(chunk_size=1 << 20)
    out = list(chunker.compress(b"\xfe\xff\xff\xff\x0f" + head))
    for _ in range(inflated_bytes // len(zeros)):
        out.extend(chunker.compress(zeros))
    out.extend(chunker.finish())
    return b"".join(out)


@pytest.mark.parametrize("codec", [Compression.gzip, Compression.zstd])
def test_a_decompression_bomb_stops_at_the_bound(codec):
    section = _bomb_section(codec, 64 * 1024 * 1024)
    assert len(section) < 200_000
    batch = raw_batch(section, records_count=1, last_offset_delta=0, attributes=codec)
    with pytest.raises(MessageTooLarge) as info:
        check(batch, ValidationPolicy(max_uncompressed_bytes=8 * 1024 * 1024))
    assert info.value.error_code == ErrorCode.message_too_large


@pytest.mark.parametrize("codec", [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd])
def test_highly_compressible_batches_past_the_bound_are_too_large(codec):
    batch = make_batch([(b"k", bytes(3 * 1024 * 1024))], compression=codec)
    with pytest.raises(MessageTooLarge):
        check(batch, ValidationPolicy(max_uncompressed_bytes=1024 * 1024))
    check(batch, ValidationPolicy(max_uncompressed_bytes=4 * 1024 * 1024))


@pytest.mark.parametrize("codec", [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd])
def test_damaged_compressed_streams_are_corrupt(codec):
    batch = make_batch([(b"k", os.urandom(5000))], compression=codec)
    section = bytes(batch[BATCH_HEADER_SIZE:])
    damaged = section[: len(section) // 2]
    with pytest.raises((CorruptMessage, InvalidRecord)):
        check(raw_batch(damaged, records_count=1, last_offset_delta=0, attributes=codec))


def test_which_policies_look_into_every_record():
    """checks_each_record says when validation walks each record (the produce validator's inline bound)."""
    assert not checks_each_record(ValidationPolicy(), 0)
    assert checks_each_record(ValidationPolicy(), 1)  # the batch claims LogAppendTime
    assert checks_each_record(ValidationPolicy(require_keys=True), 0)
    assert checks_each_record(ValidationPolicy(timestamp_before_max_ms=60_000), 0)
    assert checks_each_record(ValidationPolicy(timestamp_after_max_ms=1000), 0)
