"""A partition leader dedupes idempotent producers' resends and rejects sequence gaps and old epochs."""

from __future__ import annotations

import pytest

from brook.common.errors import InvalidProducerEpoch, OutOfOrderSequence
from brook.common.types import TopicPartition
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.testing import MemoryLog, make_batch
from tests.unit.replication.fetching import replicate_once


def _partition() -> Partition:
    return Partition(TopicPartition("t", 0), MemoryLog(), LogConfig(), 0, 0, 0, (0,), (0,))


def _batch(seq: int, count: int = 2, pid: int = 7, epoch: int = 0) -> bytearray:
    records = [(None, b"v%d" % (seq + i)) for i in range(count)]
    return bytearray(make_batch(records, producer_id=pid, producer_epoch=epoch, base_sequence=seq))


def test_resent_batch_gets_its_original_offsets_and_is_not_written_twice() -> None:
    partition = _partition()
    first = partition.append_as_leader(_batch(0), now_ms=0)
    second = partition.append_as_leader(_batch(2), now_ms=0)
    resent = partition.append_as_leader(_batch(0), now_ms=0)
    assert (first.first_offset, second.first_offset) == (0, 2)
    assert (resent.first_offset, resent.last_offset) == (0, 1)
    assert partition.log.log_end_offset == 4


def test_sequence_gap_is_out_of_order() -> None:
    partition = _partition()
    partition.append_as_leader(_batch(0), now_ms=0)
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(_batch(5), now_ms=0)
    assert partition.log.log_end_offset == 2


def test_older_epoch_is_fenced_and_new_epoch_must_start_at_zero() -> None:
    partition = _partition()
    partition.append_as_leader(_batch(0, epoch=1), now_ms=0)
    with pytest.raises(InvalidProducerEpoch):
        partition.append_as_leader(_batch(2, epoch=0), now_ms=0)
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(_batch(4, epoch=2), now_ms=0)
    partition.append_as_leader(_batch(0, epoch=2), now_ms=0)
    assert partition.log.log_end_offset == 4


def test_only_the_last_five_batches_are_deduplicated() -> None:
    partition = _partition()
    for i in range(6):
        partition.append_as_leader(_batch(2 * i), now_ms=0)
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(_batch(0), now_ms=0)  # evicted from the window: not a duplicate any more


def test_state_rebuilt_from_the_log_still_dedupes() -> None:
    partition = _partition()
    partition.append_as_leader(_batch(0), now_ms=0)
    partition.append_as_leader(_batch(2), now_ms=0)
    reopened = Partition(TopicPartition("t", 0), partition.log, LogConfig(), 0, 0, 0, (0,), (0,))
    reopened.rebuild_producer_state(now_ms=0)
    assert reopened.append_as_leader(_batch(2), now_ms=0).first_offset == 2
    assert reopened.log.log_end_offset == 4


def test_non_idempotent_batches_are_never_deduplicated() -> None:
    partition = _partition()
    batch = bytearray(make_batch([(None, b"x")]))
    partition.append_as_leader(bytearray(batch), now_ms=0)
    partition.append_as_leader(bytearray(batch), now_ms=0)
    assert partition.log.log_end_offset == 2


def test_two_batches_of_one_producer_in_one_request_are_in_sequence() -> None:
    partition = _partition()
    both = _batch(0) + _batch(2)
    info = partition.append_as_leader(bytearray(both), now_ms=0)
    assert (info.first_offset, info.last_offset) == (0, 3)
    with pytest.raises(OutOfOrderSequence):
        partition.append_as_leader(bytearray(_batch(4) + _batch(7)), now_ms=0)
    assert partition.log.log_end_offset == 4


def test_new_leader_dedupes_a_retry_of_a_batch_it_replicated_as_follower() -> None:
    replicas = (0, 1)
    old = Partition(TopicPartition("t", 0), MemoryLog(), LogConfig(), 0, 0, 0, replicas, replicas)
    new = Partition(TopicPartition("t", 0), MemoryLog(), LogConfig(), 1, 0, 0, replicas, replicas)
    old.make_leader(0, replicas, replicas, now_ms=0)
    new.make_follower(0, 0, replicas, replicas, now_ms=0)
    old.append_as_leader(_batch(0), now_ms=0)
    old.append_as_leader(_batch(2), now_ms=0)  # its acks=all answer is lost with the old leader
    replicate_once(old, new, 0)
    new.make_leader(1, replicas, (1,), now_ms=0)
    retry = new.append_as_leader(_batch(2), now_ms=0)
    assert (retry.first_offset, retry.last_offset) == (2, 3)
    assert new.log.log_end_offset == 4
    assert new.append_as_leader(_batch(4), now_ms=0).first_offset == 4


def test_bytes_the_produce_validator_checked_are_not_crc_checked_again() -> None:
    from brook.common.errors import CorruptMessage

    partition = _partition()
    corrupt = _batch(0)
    corrupt[-1] ^= 0xFF  # a record byte: only a CRC pass notices
    with pytest.raises(CorruptMessage):
        partition.append_as_leader(bytearray(corrupt), now_ms=0)
    # validated_with says the produce validator ran its CRC pass on these bytes: no second one
    info = partition.append_as_leader(bytearray(corrupt), now_ms=0, validated_with=partition.config)
    assert info.first_offset == 0


def test_keys_are_checked_again_if_the_topic_became_compacted_after_validation() -> None:
    from brook.common.errors import InvalidRecord

    partition = _partition()
    validated_with = partition.config  # delete policy when the validator ran
    partition.config = LogConfig(cleanup_policy="compact")
    with pytest.raises(InvalidRecord, match="without key"):
        partition.append_as_leader(_batch(0), now_ms=0, validated_with=validated_with)
    assert partition.log.log_end_offset == 0
