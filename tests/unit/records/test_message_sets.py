"""Message formats v0/v1 (records/message_sets.py): byte layouts from Kafka's LegacyRecord, checked against
vectors written out field by field and against kafka-python's own legacy encoder and reader."""

from __future__ import annotations

import struct
import zlib

import pytest
from kafka.record.legacy_records import LegacyRecordBatch, LegacyRecordBatchBuilder

from brook.common.errors import CorruptMessage, InvalidRecord, MessageTooLarge, UnsupportedCompressionType
from brook.records.batch import Compression, parse_header, set_log_append_time
from brook.records.lz4_header import with_broken_checksum, with_proper_checksum, xxh32
from brook.records.message_sets import down_convert, encode_message, is_legacy, iter_messages, to_v2_batch
from brook.records.records import Record, build_batch, decode_records

MAX = 1 << 20
TS = 1_700_000_000_000


def _spec_message(
    offset: int, magic: int, attributes: int, timestamp: int, key: bytes | None, value: bytes | None
) -> bytes:
    """A message written from the layout in Kafka's protocol guide, field by field."""
    body = struct.pack(">bb", magic, attributes)
    if magic == 1:
        body += struct.pack(">q", timestamp)
    for part in (key, value):
        body += struct.pack(">i", -1) if part is None else struct.pack(">i", len(part)) + part
    crc = zlib.crc32(body)
    return struct.pack(">qiI", offset, 4 + len(body), crc) + body


@pytest.mark.parametrize("magic", [0, 1])
def test_encode_message_matches_the_spec_byte_for_byte(magic: int) -> None:
    ours = encode_message(7, magic, b"key", None, timestamp=TS)
    assert ours == _spec_message(7, magic, 0, TS, b"key", None)
    # magic 0: offset 8, size 4, crc 4, magic 1, attributes 1, key 4+3, value 4 = 29 bytes
    assert len(encode_message(0, 0, b"key", None)) == 8 + 4 + 4 + 1 + 1 + 4 + 3 + 4
    assert len(encode_message(0, 1, b"key", None)) == 8 + 4 + 4 + 1 + 1 + 8 + 4 + 3 + 4


@pytest.mark.parametrize("magic", [0, 1])
def test_encode_message_matches_kafka_python(magic: int) -> None:
    builder = LegacyRecordBatchBuilder(magic, 0, MAX)
    for i in range(3):
        builder.append(i, TS + i, b"k%d" % i, b"v%d" % i)
    ours = b"".join(encode_message(i, magic, b"k%d" % i, b"v%d" % i, timestamp=TS + i) for i in range(3))
    assert ours == bytes(builder.build())


# kafka-python (as installed: no xxhash, no python-snappy) writes and reads these combinations
KAFKA_PYTHON_CODECS = [
    (0, Compression.none),
    (0, Compression.gzip),
    (1, Compression.none),
    (1, Compression.gzip),
    (1, Compression.lz4),
]


@pytest.mark.parametrize(("magic", "codec"), KAFKA_PYTHON_CODECS)
def test_kafka_python_message_sets_up_convert_to_one_v2_batch(magic: int, codec: int) -> None:
    builder = LegacyRecordBatchBuilder(magic, codec, MAX)
    for i in range(5):
        builder.append(i, TS + i, b"k%d" % i if i != 2 else None, b"v%d" % i)
    data = bytes(builder.build())
    assert is_legacy(data)
    batch = to_v2_batch(data, MAX)
    header = parse_header(batch)
    assert (header.magic, header.compression, header.records_count, header.base_offset) == (2, codec, 5, 0)
    assert header.producer_id == -1
    records = decode_records(batch, header)
    expected_ts = [TS + i if magic == 1 else -1 for i in range(5)]
    assert [(r.offset, r.timestamp, r.key, r.value) for r in records] == [
        (i, expected_ts[i], b"k%d" % i if i != 2 else None, b"v%d" % i) for i in range(5)
    ]


def _v2(records: list[tuple[bytes | None, bytes | None]], base: int = 100, codec: int = 0) -> bytearray:
    """A v2 batch whose records carry a header (lost in magic 0/1)."""
    return build_batch(
        [Record(base + i, TS + i, k, v, (("h", b"x"),)) for i, (k, v) in enumerate(records)],
        base_offset=base,
        attributes=codec,
    )


@pytest.mark.parametrize(("magic", "codec"), KAFKA_PYTHON_CODECS)
def test_down_converted_batches_read_back_with_kafka_python(magic: int, codec: int) -> None:
    data = _v2([(b"a", b"1"), (None, b"2"), (b"c", None)]) + _v2([(b"d", b"4")], base=103, codec=codec)
    out = down_convert(data, magic, first_offset=100)
    got = []
    pos = 0
    while pos < len(out):
        (size,) = struct.unpack_from(">i", out, pos + 8)
        got.extend(LegacyRecordBatch(out[pos : pos + 12 + size], magic))
        pos += 12 + size
    ts = [TS, TS + 1, TS + 2, TS] if magic == 1 else [None] * 4
    assert [(r.offset, r.key, r.value, r.timestamp) for r in got] == [
        (100, b"a", b"1", ts[0]),
        (101, None, b"2", ts[1]),
        (102, b"c", None, ts[2]),
        (103, b"d", b"4", ts[3]),
    ]


@pytest.mark.parametrize("magic", [0, 1])
@pytest.mark.parametrize("codec", [Compression.gzip, Compression.snappy, Compression.lz4])
def test_compressed_wrapper_layout_and_round_trip(magic: int, codec: int) -> None:
    data = _v2([(b"k%d" % i, b"v%d" % i) for i in range(4)], base=50, codec=codec)
    out = down_convert(data, magic, first_offset=52)  # compressed: the whole batch, as Kafka sends it
    offset, size = struct.unpack_from(">qi", out, 0)
    assert len(out) == 12 + size  # one wrapper message
    assert offset == 53  # the wrapper carries its last inner message's offset
    assert out[16] == magic
    assert out[17] & 0x07 == codec
    if magic == 1:
        assert struct.unpack_from(">q", out, 18)[0] == TS + 3  # the largest inner timestamp
    messages = list(iter_messages(out, MAX))
    assert [(m.offset, m.key, m.value) for m in messages] == [
        (50 + i, b"k%d" % i, b"v%d" % i) for i in range(4)
    ]
    again = to_v2_batch(out, MAX)
    assert [(r.key, r.value) for r in decode_records(again, parse_header(again))] == [
        (b"k%d" % i, b"v%d" % i) for i in range(4)
    ]


def test_uncompressed_down_conversion_drops_records_before_the_fetch_offset() -> None:
    data = _v2([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], base=10)
    assert [m.offset for m in iter_messages(down_convert(data, 1, first_offset=11), MAX)] == [11, 12]


def test_log_append_time_batches_carry_the_append_time_in_magic_1() -> None:
    batch = _v2([(b"a", b"1"), (b"b", b"2")], base=0)
    set_log_append_time(batch, 0, parse_header(batch), 1_800_000_000_000)
    out = down_convert(batch, 1, first_offset=0)
    messages = list(iter_messages(out, MAX))
    assert [(m.timestamp, m.log_append_time) for m in messages] == [(1_800_000_000_000, True)] * 2
    assert out[17] & 0x08  # the timestamp-type bit of the first message's attributes
    assert all(not m.log_append_time for m in iter_messages(down_convert(batch, 0, first_offset=0), MAX))


def test_zstd_and_control_batches() -> None:
    with pytest.raises(UnsupportedCompressionType):
        down_convert(_v2([(b"a", b"1")], codec=Compression.zstd), 1, first_offset=0)
    batch = build_batch([Record(5, TS, b"\x00\x00\x00\x00", b"")], base_offset=5, attributes=0x20)
    assert down_convert(batch, 1, first_offset=0) == b""


def test_partial_trailing_batch_and_message_are_cuts_not_errors() -> None:
    data = _v2([(b"a", b"1")], base=0) + _v2([(b"b", b"2")], base=1)
    out = down_convert(data[:-5], 1, first_offset=0)
    assert [m.offset for m in iter_messages(out, MAX)] == [0]
    whole = encode_message(0, 1, b"a", b"1") + encode_message(1, 1, b"b", b"2")
    assert [m.offset for m in iter_messages(whole[:-3], MAX)] == [0]


def test_bad_crc_magic_and_nesting_are_refused() -> None:
    message = bytearray(encode_message(0, 1, b"k", b"v", timestamp=TS))
    message[-1] ^= 0xFF
    with pytest.raises(CorruptMessage):
        to_v2_batch(message, MAX)
    wrong_magic = bytearray(encode_message(0, 1, b"k", b"v"))
    wrong_magic[16] = 3
    with pytest.raises(InvalidRecord):
        to_v2_batch(wrong_magic, MAX)
    nested_inner = encode_message(0, 1, None, encode_message(0, 1, b"k", b"v"), codec=Compression.none)
    gz = encode_message(0, 1, None, zlib.compress(b"x"), codec=Compression.gzip)
    with pytest.raises(CorruptMessage):
        to_v2_batch(gz, MAX)  # a zlib stream is not gzip: Kafka answers CORRUPT_MESSAGE
    assert len(list(iter_messages(nested_inner, MAX))) == 1
    bad_codec = encode_message(0, 1, None, b"x", codec=4)
    with pytest.raises(UnsupportedCompressionType):
        to_v2_batch(bad_codec, MAX)


def test_inner_magic_must_match_the_wrapper() -> None:
    import gzip

    inner = encode_message(0, 0, b"k", b"v")
    wrapper = encode_message(0, 1, None, gzip.compress(inner), codec=Compression.gzip, timestamp=TS)
    with pytest.raises(InvalidRecord):
        to_v2_batch(wrapper, MAX)


def test_v2_batches_are_not_legacy() -> None:
    assert not is_legacy(_v2([(b"a", b"1")]))
    assert to_v2_batch(b"", MAX) == bytearray()


def test_xxh32_known_vectors() -> None:
    # the reference implementation's values (xxhsum)
    assert xxh32(b"") == 0x02CC5D05
    assert xxh32(b"a") == 0x550D7456
    assert xxh32(b"abc") == 0x32D153FF
    assert xxh32(b"Nobody inspects the spammish repetition") == 0xE2293B2F  # 16+ bytes: the lane loop


def test_magic_0_lz4_uses_kafka_0_8s_broken_header_checksum() -> None:
    data = _v2([(b"k%d" % i, b"v%d" % i) for i in range(3)], base=0, codec=Compression.lz4)
    out = down_convert(data, 0, first_offset=0)
    (value_length,) = struct.unpack_from(">i", out, 12 + 4 + 2 + 4)  # after crc, magic, attributes, null key
    frame = out[12 + 4 + 2 + 4 + 4 :]
    assert len(frame) == value_length
    flg = frame[4]
    hc_at = 6 + (8 if flg & 0x08 else 0)
    assert frame[hc_at] == (xxh32(frame[:hc_at]) >> 8) & 0xFF  # over the magic too: broken
    assert frame[hc_at] != (xxh32(frame[4:hc_at]) >> 8) & 0xFF
    assert with_broken_checksum(with_proper_checksum(frame)) == frame
    # and read back: the broken checksum is accepted for magic 0
    assert [(m.offset, m.key) for m in iter_messages(out, MAX)] == [(i, b"k%d" % i) for i in range(3)]
    assert down_convert(data, 1, first_offset=0) != out


def test_the_answer_keeps_to_the_size_read_but_always_holds_one_message() -> None:
    data = _v2([(None, b"x")] * 50, base=0)  # v2: ~10 bytes a record; magic 1: 34 + 1
    out = down_convert(data, 1, first_offset=0)
    assert len(out) <= len(data)
    offsets = [m.offset for m in iter_messages(out, MAX)]
    assert offsets == list(range(len(offsets)))
    assert 0 < len(offsets) < 50  # the consumer fetches the rest from where this ends
    assert len(list(iter_messages(down_convert(data, 1, first_offset=0, max_bytes=1), MAX))) == 1


def test_zstd_after_other_batches_ends_the_answer() -> None:
    data = _v2([(b"a", b"1")], base=0) + _v2([(b"b", b"2")], base=1, codec=Compression.zstd)
    assert [m.offset for m in iter_messages(down_convert(data, 1, first_offset=0), MAX)] == [0]


def test_a_message_over_max_message_bytes_is_refused_before_it_is_inflated() -> None:
    import gzip

    inner = b"".join(encode_message(i, 1, None, b"x" * 100, timestamp=TS) for i in range(100))
    wrapper = encode_message(99, 1, None, gzip.compress(inner), codec=Compression.gzip, timestamp=TS)
    with pytest.raises(MessageTooLarge):
        to_v2_batch(wrapper, MAX, max_message_bytes=len(wrapper) - 1)
    batch = to_v2_batch(wrapper, MAX, max_message_bytes=len(wrapper))
    assert parse_header(batch).records_count == 100
    with pytest.raises(MessageTooLarge):  # and the inflated size is bounded too
        to_v2_batch(wrapper, len(inner) - 1)


def test_many_records_stream_through_both_conversions() -> None:
    messages = b"".join(encode_message(i, 1, b"%d" % i, None, timestamp=TS + i) for i in range(5000))
    batch = to_v2_batch(messages, MAX)
    header = parse_header(batch)
    assert (header.records_count, header.last_offset_delta, header.base_timestamp, header.max_timestamp) == (
        5000,
        4999,
        TS,
        TS + 4999,
    )
    back = down_convert(batch, 1, first_offset=0, max_bytes=1 << 30)
    assert [(m.offset, m.key, m.value, m.timestamp) for m in iter_messages(back, MAX)] == [
        (i, b"%d" % i, None, TS + i) for i in range(5000)
    ]
