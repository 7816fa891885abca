"""Produce validation's ordering and placement (broker/produce_validation.py), with real batches."""

from __future__ import annotations

import asyncio
import os

from brook.broker import produce_validation
from brook.broker.produce_validation import (
    INLINE_INFLATE_BYTES,
    INLINE_VALIDATION_BYTES,
    INLINE_WALKED_BYTES,
    ProduceValidator,
    ValidationJob,
)
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.records.batch import Compression
from brook.records.record_scan import FAST_SCAN
from brook.storage.api import LogConfig
from brook.testing.batches import make_batch

TP = TopicPartition("t", 0)


async def test_turns_on_a_partition_complete_in_reservation_order():
    validator = ProduceValidator(64 * 1024 * 1024)
    turns = [validator.reserve(TP) for _ in range(3)]
    other = validator.reserve(TopicPartition("t", 1))
    order: list[int] = []

    async def append(i: int) -> None:
        await turns[i].wait()
        order.append(i)
        await asyncio.sleep(0.01 * (3 - i))  # the first takes longest: the others still wait for it
        turns[i].done()

    await other.wait()  # another partition never waits for this one's queue
    await asyncio.gather(append(2), append(1), append(0))
    assert order == [0, 1, 2]
    validator.close()


async def test_small_batches_inline_compressed_ones_too_big_ones_on_the_thread_with_the_same_answers():
    validator = ProduceValidator(64 * 1024 * 1024)
    config = LogConfig()
    inline = [
        ValidationJob(make_batch([(b"k", b"v")]), config),
        ValidationJob(make_batch([(b"k", b"v")], compression=Compression.zstd), config),
        ValidationJob(make_batch([(b"k", b"v" * 100)], compression=Compression.snappy), config),
        ValidationJob(make_batch([(b"k", b"v")], control=True), config),
        ValidationJob(bytearray(), None),  # not hosted here: the append answers for it
    ]
    errors = await validator.validate(inline, 0)
    assert [e.error_code if e else None for e in errors] == [None, None, None, ErrorCode.invalid_record, None]
    assert validator.offloaded == 0
    big = [ValidationJob(make_batch([(b"k", b"v" * (INLINE_VALIDATION_BYTES + 1))]), config)]
    assert await validator.validate(big, 0) == [None]
    assert validator.offloaded == 1
    validator.close()


async def test_a_small_compressed_batch_inflating_past_the_inline_bound_is_validated_on_the_thread():
    # 200 KB of one byte: a few hundred bytes of zstd, more than INLINE_INFLATE_BYTES once inflated
    packed = make_batch([(b"k", b"v" * 200_000)], compression=Compression.zstd)
    assert len(packed) < INLINE_INFLATE_BYTES
    validator = ProduceValidator(64 * 1024 * 1024)
    bad = make_batch([(b"k", b"v")], control=True)
    errors = await validator.validate(
        [ValidationJob(packed, LogConfig()), ValidationJob(bad, LogConfig())], 0
    )
    assert [e.error_code if e else None for e in errors] == [None, ErrorCode.invalid_record]
    assert validator.offloaded == 1
    validator.close()
    # past the broker's own bound it is refused, whether that bound is above the inline one or below it
    # (without the C scan the records are walked in Python: the inline attempt stops at INLINE_WALKED_BYTES)
    for max_uncompressed_bytes, offloaded in (
        (100_000, 1),
        (INLINE_INFLATE_BYTES // 2, 0 if FAST_SCAN else 1),
    ):
        validator = ProduceValidator(max_uncompressed_bytes)
        errors = await validator.validate([ValidationJob(packed, LogConfig())], 0)
        assert [e.error_code if e else None for e in errors] == [ErrorCode.message_too_large]
        assert validator.offloaded == offloaded
        validator.close()


async def test_one_uncompressed_batch_up_to_the_bigger_bound_inline_compressed_or_many_batches_on_the_thread():
    """A transaction's 100 x 1 KiB batch is validated inline (with the C scan: the measured bound), with the
    same answers; a compressed batch or many batches past INLINE_INFLATE_BYTES still go to the thread."""
    config = LogConfig()
    records = [(None, os.urandom(1024)) for _ in range(100)]
    plain = make_batch(records)
    assert INLINE_INFLATE_BYTES < len(plain) <= 128 * 1024
    corrupt = bytearray(plain)
    corrupt[-1] ^= 0xFF  # the CRC no longer matches
    validator = ProduceValidator(64 * 1024 * 1024)
    assert await validator.validate([ValidationJob(plain, config)], 0) == [None]
    errors = await validator.validate([ValidationJob(corrupt, config)], 0)
    assert [e.error_code if e else None for e in errors] == [ErrorCode.corrupt_message]
    assert validator.offloaded == (0 if FAST_SCAN else 2)
    # two partitions: past the bound together
    both = [ValidationJob(plain, config), ValidationJob(plain, config)]
    assert await validator.validate(both, 0) == [None, None]
    assert validator.offloaded == (1 if FAST_SCAN else 3)
    offloaded = validator.offloaded
    packed = make_batch(records, compression=Compression.zstd)  # random bytes: as big compressed
    assert INLINE_INFLATE_BYTES < len(packed) <= INLINE_VALIDATION_BYTES or not FAST_SCAN
    assert await validator.validate([ValidationJob(packed, config)], 0) == [None]
    assert validator.offloaded == offloaded + 1
    # two batches in one partition's data: refused (one batch a partition), on the thread
    many = make_batch(records[:50]) + make_batch(records[50:])
    errors = await validator.validate([ValidationJob(many, config)], 0)
    assert [e.error_code if e else None for e in errors] == [ErrorCode.invalid_record]
    assert validator.offloaded == offloaded + 2
    validator.close()


async def test_records_walked_in_python_are_validated_inline_only_up_to_the_walked_bound_with_the_same_answers():
    """A compacted topic (every key checked), or a batch claiming LogAppendTime, has its records walked in
    Python (~100 us a KiB with many headers): inline up to INLINE_WALKED_BYTES, else on the thread; the
    answers are the same either way, and a plain topic's batch of the same size stays inline."""
    compacted = LogConfig(cleanup_policy="compact")
    headers = [("h", b"")] * 50
    small = make_batch([(b"k", b"v", headers)])
    assert len(small) <= INLINE_WALKED_BYTES
    keyed = make_batch([(b"k%d" % i, b"v" * 100, headers) for i in range(40)])
    keyless = make_batch([(None, b"v" * 100, headers) for i in range(40)])
    assert INLINE_WALKED_BYTES < len(keyed) <= INLINE_INFLATE_BYTES
    validator = ProduceValidator(64 * 1024 * 1024)
    assert await validator.validate([ValidationJob(small, compacted)], 0) == [None]
    assert validator.offloaded == 0
    assert await validator.validate([ValidationJob(keyed, compacted)], 0) == [None]
    errors = await validator.validate([ValidationJob(keyless, compacted)], 0)
    assert [e.error_code if e else None for e in errors] == [ErrorCode.invalid_record]
    assert validator.offloaded == 2
    # the same bytes on a plain topic: no record looked into, inline with the C scan
    assert await validator.validate([ValidationJob(keyless, LogConfig())], 0) == [None]
    assert validator.offloaded == (2 if FAST_SCAN else 3)
    # a batch claiming LogAppendTime has every timestamp checked: walked, so on the thread at this size
    stamped = make_batch([(b"k%d" % i, b"v" * 100, headers) for i in range(40)], log_append_time=True)
    assert await validator.validate([ValidationJob(stamped, LogConfig())], 0) == [None]
    assert validator.offloaded == (3 if FAST_SCAN else 4)
    # compressed and small on the wire, but inflating past the walked bound: the thread validates it
    packed = make_batch([(b"k%d" % i, b"v" * 100, headers) for i in range(40)], compression=Compression.zstd)
    assert len(packed) <= INLINE_WALKED_BYTES
    assert await validator.validate([ValidationJob(packed, compacted)], 0) == [None]
    assert validator.offloaded == (4 if FAST_SCAN else 5)
    validator.close()


def test_one_read_of_the_first_batch_header_gives_every_placement_decision():
    """batchLength, attributes and recordsCount come from one read of the first header; data too short for a
    header (61 bytes) still has its attributes read when it holds them (the timestamp type)."""
    pv = produce_validation
    plain = make_batch([(b"k", b"v")] * 3)
    header = pv._first_header(plain)
    assert header == (len(plain) - 12, 0, 3)
    assert pv._one_plain_batch(plain, header)
    assert (pv._records_count(plain, header), pv._timestamp_type(header)) == (3, 0)
    stamped = make_batch([(b"k", b"v")] * 2, compression=Compression.zstd, log_append_time=True)
    header = pv._first_header(memoryview(stamped))
    assert header == (len(stamped) - 12, 0x08 | Compression.zstd, 2)
    assert not pv._one_plain_batch(stamped, header)  # compressed
    assert pv._timestamp_type(header) == 1
    two = plain + plain
    assert not pv._one_plain_batch(two, pv._first_header(two))
    assert pv._records_count(two, pv._first_header(two)) == 3  # what the first batch claims
    short = stamped[:40]  # holds the attributes, not the records count
    header = pv._first_header(short)
    assert header == (0, 0x08 | Compression.zstd, 0)
    assert (pv._one_plain_batch(short, header), pv._records_count(short, header)) == (False, 0)
    assert pv._timestamp_type(header) == 1
    assert pv._first_header(stamped[:22]) == (0, 0, 0)
    assert pv._one_plain_batch(bytearray(), pv._first_header(bytearray()))  # empty: nothing to scan
    lying = bytearray(plain)
    lying[57:61] = (0).to_bytes(4, "big")  # claims no records: never counted as cheap
    assert pv._records_count(lying, pv._first_header(lying)) == pv.INLINE_VALIDATION_RECORDS + 1
