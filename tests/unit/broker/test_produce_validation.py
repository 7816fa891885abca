"""Produce validation's ordering and placement (broker/produce_validation.py), with real batches."""

from __future__ import annotations

import asyncio

from brook.broker.produce_validation import INLINE_VALIDATION_BYTES, ProduceValidator, ValidationJob
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.records.batch import Compression
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
    big = [ValidationJob(make_batch([(b"k", b"v" * 200_000)]), config)]
    assert await validator.validate(big, 0) == [None]
    assert validator.offloaded == 1
    validator.close()


async def test_a_small_compressed_batch_inflating_past_the_inline_bound_is_validated_on_the_thread():
    # 200 KB of one byte: a few hundred bytes of zstd, more than INLINE_VALIDATION_BYTES once inflated
    packed = make_batch([(b"k", b"v" * 200_000)], compression=Compression.zstd)
    assert len(packed) < INLINE_VALIDATION_BYTES
    validator = ProduceValidator(64 * 1024 * 1024)
    bad = make_batch([(b"k", b"v")], control=True)
    errors = await validator.validate(
        [ValidationJob(packed, LogConfig()), ValidationJob(bad, LogConfig())], 0
    )
    assert [e.error_code if e else None for e in errors] == [None, ErrorCode.invalid_record]
    assert validator.offloaded == 1
    validator.close()
    # past the broker's own bound it is refused, whether that bound is above the inline one or below it
    for max_uncompressed_bytes, offloaded in ((100_000, 1), (INLINE_VALIDATION_BYTES // 2, 0)):
        validator = ProduceValidator(max_uncompressed_bytes)
        errors = await validator.validate([ValidationJob(packed, LogConfig())], 0)
        assert [e.error_code if e else None for e in errors] == [ErrorCode.message_too_large]
        assert validator.offloaded == offloaded
        validator.close()
