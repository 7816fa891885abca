"""Replica fetch decisions (replication/fetch.py and Partition): a follower fetch counts only once valid,
a new leader records its epoch start, followers truncate where logs part or restart at the leader's log
start, and stale or failing answers change nothing."""

from __future__ import annotations

import pytest

from brook.common.errors import ErrorCode, InvalidRecord
from brook.common.types import TopicPartition
from brook.records.batch import iter_batches
from brook.records.records import iter_records
from brook.replication.fetch import (
    FetchValidation,
    OutOfRangeAction,
    divergence_truncation_offset,
    out_of_range_action,
    validate_fetch,
)
from brook.replication.partition import FollowerFetchOutcome, Partition
from brook.storage.api import LogConfig
from brook.testing import MemoryLog, make_batch
from tests.unit.replication.fetching import replicate_once

TP = TopicPartition("t", 0)
REPLICAS = (0, 1, 2)


def _replica(node_id: int, leader: int, epoch: int, isr: tuple[int, ...] = REPLICAS) -> Partition:
    p = Partition(TP, MemoryLog(), LogConfig(), node_id, leader, epoch, REPLICAS, isr)
    p.replica_lag_time_max_ms = 1000
    if node_id == leader:
        p.make_leader(epoch, REPLICAS, isr, now_ms=0)
    else:
        p.make_follower(leader, epoch, REPLICAS, isr, now_ms=0)
    return p


def _append(leader: Partition, n: int, value: bytes = b"v") -> None:
    for _ in range(n):
        leader.append_as_leader(bytearray(make_batch([(None, value)])), now_ms=0)


def _values(p: Partition) -> list[bytes | None]:
    data = p.log.read(p.log.log_start_offset, max_bytes=1 << 30).to_bytes()
    return [
        r.value
        for pos, header in iter_batches(data)
        for r in iter_records(data[pos : pos + header.size], header)
        if r.offset >= p.log.log_start_offset
    ]


# --- the pure rules --------------------------------------------------------------------------------


def _validate(**overrides: object) -> FetchValidation:
    args: dict = {
        "leader_epoch": 5,
        "current_leader_epoch": 5,
        "fetch_offset": 10,
        "last_fetched_epoch": 5,
        "log_start_offset": 0,
        "log_end_offset": 20,
        "end_offset_for_epoch": (5, 20),
        "replica_known": True,
    }
    args.update(overrides)
    return validate_fetch(**args)


def test_validate_fetch_checks_the_leader_epoch_first() -> None:
    assert _validate(current_leader_epoch=4).error == ErrorCode.fenced_leader_epoch
    assert _validate(current_leader_epoch=6).error == ErrorCode.unknown_leader_epoch
    assert _validate(current_leader_epoch=-1).should_read  # clients without KIP-320 epochs


def test_validate_fetch_refuses_replicas_it_does_not_host() -> None:
    assert _validate(replica_known=False).error == ErrorCode.unknown_leader_epoch
    assert _validate(replica_known=False, current_leader_epoch=-1).error == ErrorCode.not_leader_or_follower


def test_validate_fetch_reports_divergence_instead_of_reading() -> None:
    # our epoch 3 ends at 12 but the follower fetches from 15 in epoch 3: it has a tail we do not
    assert _validate(last_fetched_epoch=3, end_offset_for_epoch=(3, 12), fetch_offset=15).diverging_epoch == (
        3,
        12,
    )
    # we never had its epoch 4: the largest epoch below it is 3
    assert _validate(last_fetched_epoch=4, end_offset_for_epoch=(3, 12), fetch_offset=12).diverging_epoch == (
        3,
        12,
    )
    assert _validate(last_fetched_epoch=3, end_offset_for_epoch=(3, 12), fetch_offset=12).should_read


def test_validate_fetch_offset_range() -> None:
    assert _validate(fetch_offset=21).diverging_epoch == (5, 20)  # with an epoch: past our end diverges
    assert _validate(fetch_offset=21, last_fetched_epoch=-1).error == ErrorCode.offset_out_of_range
    assert _validate(fetch_offset=3, log_start_offset=5).error == ErrorCode.offset_out_of_range
    assert _validate(end_offset_for_epoch=(-1, -1)).error == ErrorCode.offset_out_of_range
    assert _validate(fetch_offset=20).should_read


def test_divergence_truncation_offset_follows_kafka() -> None:
    common = {"log_end_offset": 30, "high_watermark": 8}
    # same epoch known on both sides: the smaller end
    assert (
        divergence_truncation_offset(
            leader_epoch=3, leader_end_offset=12, own_end_offset_for_epoch=(3, 15), **common
        )
        == 12
    )
    # we only know an older epoch: cut at its end, the next fetch narrows it down
    assert (
        divergence_truncation_offset(
            leader_epoch=3, leader_end_offset=12, own_end_offset_for_epoch=(2, 10), **common
        )
        == 10
    )
    # we know nothing that old: the leader's end
    assert (
        divergence_truncation_offset(
            leader_epoch=3, leader_end_offset=12, own_end_offset_for_epoch=(-1, -1), **common
        )
        == 12
    )


def test_out_of_range_below_log_start_restarts_at_the_leaders_log_start() -> None:
    assert out_of_range_action(fetch_offset=5, leader_log_start_offset=100, leader_high_watermark=150) == (
        OutOfRangeAction.TRUNCATE_FULLY_AND_START_AT,
        100,
    )
    assert out_of_range_action(fetch_offset=200, leader_log_start_offset=100, leader_high_watermark=150) == (
        OutOfRangeAction.TRUNCATE_TO,
        150,
    )


# --- item 1: a follower fetch counts only once it is valid ----------------------------------------


def test_restarted_old_leader_with_a_tail_neither_joins_the_isr_nor_moves_the_hw_before_truncating() -> None:
    old = _replica(0, leader=0, epoch=5)
    new = _replica(1, leader=0, epoch=5)
    third = _replica(2, leader=0, epoch=5)
    _append(old, 3, b"acked")
    for f in (new, third):
        replicate_once(old, f, 0)
        replicate_once(old, f, 0)
    assert old.log.high_watermark == 3
    _append(old, 4, b"unreplicated")  # acks=1, never fetched by anyone
    # replica 1 becomes leader in epoch 6 with ISR (1, 2), appends acknowledged records
    new.make_leader(6, REPLICAS, (1, 2), now_ms=0)
    third.make_follower(1, 6, REPLICAS, (1, 2), now_ms=0)
    _append(new, 2, b"epoch6")
    # the old leader restarts and follows: its first fetch (offset 7, epoch 5) is not a valid position
    old.make_follower(1, 6, REPLICAS, (1, 2), now_ms=0)
    verdict = new.validate_fetch(7, current_leader_epoch=6, last_fetched_epoch=5, replica_id=0)
    assert verdict.diverging_epoch == (5, 3)
    assert replicate_once(new, old, 0) is FollowerFetchOutcome.TRUNCATED
    assert new.followers[0].log_end_offset == -1  # its claimed offset 7 was never recorded
    assert new.maybe_expand_isr(0) is None
    assert old.log.log_end_offset == 3
    # now it fetches from 3 in epoch 5: valid, but behind our epoch start (3) and HW
    replicate_once(new, third, 0)
    replicate_once(new, third, 0)
    assert new.log.high_watermark == 5
    replicate_once(new, old, 0)
    assert new.maybe_expand_isr(0) is None  # its fetch offset 3 is below the HW 5
    replicate_once(new, old, 0)
    assert new.maybe_expand_isr(0) == (1, 2, 0)
    assert _values(old) == _values(new) == [b"acked"] * 3 + [b"epoch6"] * 2


def test_fenced_follower_fetch_does_not_move_the_hw() -> None:
    leader = _replica(0, leader=0, epoch=2, isr=(0, 1))
    follower = _replica(1, leader=0, epoch=1, isr=(0, 1))  # has not heard of epoch 2 yet
    _append(leader, 2)
    assert replicate_once(leader, follower, 0) is FollowerFetchOutcome.RETRY
    assert leader.followers[1].log_end_offset == -1
    assert leader.log.high_watermark == 0


# --- item 2: a new leader records its epoch start ---------------------------------------------------


def test_new_leader_tells_a_follower_with_a_newer_looking_history_where_it_diverges() -> None:
    a, b, c = _replica(0, 0, 1), _replica(1, 0, 1), _replica(2, 0, 1)
    _append(a, 2, b"e1")
    for f in (b, c):
        replicate_once(a, f, 0)
    # epoch 2: c leads, b follows and copies two more records; a missed all of epoch 2
    c.make_leader(2, REPLICAS, (2, 1), now_ms=0)
    b.make_follower(2, 2, REPLICAS, (2, 1), now_ms=0)
    _append(c, 3, b"e2")
    replicate_once(c, b, 0)
    # epoch 3: a leads (say it was the only live ISR member) and has appended nothing yet
    a.make_leader(3, REPLICAS, (0,), now_ms=0)
    assert a.log.end_offset_for_epoch(2) == (1, 2)  # epoch 3 starts at 2: recorded on makeLeader
    b.make_follower(0, 3, REPLICAS, (0,), now_ms=0)
    assert b.log.log_end_offset == 5
    # b's fetch from offset 2 (<= a's end) in epoch 2 would otherwise be served from a's log
    assert a.validate_fetch(
        2, current_leader_epoch=3, last_fetched_epoch=2, replica_id=1
    ).diverging_epoch == (
        1,
        2,
    )
    replicate_once(a, b, 0)
    assert b.log.log_end_offset == 2
    _append(a, 1, b"e3")
    replicate_once(a, b, 0)
    assert _values(b) == _values(a) == [b"e1", b"e1", b"e3"]


def test_a_short_leadership_that_appended_nothing_leaves_no_epoch_behind() -> None:
    a, b = _replica(0, 0, 1, isr=(0, 1)), _replica(1, 0, 1, isr=(0, 1))
    _append(a, 2)
    replicate_once(a, b, 0)
    b.make_leader(2, (0, 1, 2), (1,), now_ms=0)  # epoch 2 recorded at 2, nothing appended
    a.make_leader(3, (0, 1, 2), (0,), now_ms=0)
    _append(a, 1, b"e3")
    b.make_follower(0, 3, (0, 1, 2), (0,), now_ms=0)
    assert b.last_fetched_epoch == 2
    for _ in range(3):
        replicate_once(a, b, 0)
    assert b.log.leader_epoch_entries == a.log.leader_epoch_entries
    assert _values(b) == _values(a)


# --- item 5: below the leader's log start ----------------------------------------------------------


def test_follower_below_the_leaders_log_start_restarts_there_and_catches_up() -> None:
    leader, follower = _replica(0, 0, 1, isr=(0,)), _replica(1, 0, 1, isr=(0,))
    _append(leader, 3, b"old")
    replicate_once(leader, follower, 0)
    _append(leader, 5, b"new")
    leader.log.delete_records_before(6)  # retention while the follower was away
    assert replicate_once(leader, follower, 0) is FollowerFetchOutcome.TRUNCATED
    assert (follower.log.log_start_offset, follower.log.log_end_offset) == (6, 6)
    replicate_once(leader, follower, 0)
    assert follower.log.log_end_offset == 8
    assert _values(follower) == [b"new", b"new"]
    replicate_once(leader, follower, 0)  # its next fetch says it reached our end
    assert leader.maybe_expand_isr(1) == (0, 1)


def test_leader_log_start_inside_a_batch_starts_the_empty_follower_at_that_batch() -> None:
    leader, follower = _replica(0, 0, 1, isr=(0,)), _replica(1, 0, 1, isr=(0,))
    leader.append_as_leader(bytearray(make_batch([(None, b"a"), (None, b"b"), (None, b"c")])), now_ms=0)
    leader.log.update_high_watermark(3)
    leader.log.delete_records_before(1)  # DeleteRecords: log start 1 is inside batch 0..2
    follower.log.truncate_fully_and_start_at(1)
    assert replicate_once(leader, follower, 0) is FollowerFetchOutcome.APPENDED
    assert (follower.log.log_start_offset, follower.log.log_end_offset) == (0, 3)


# --- robustness ------------------------------------------------------------------------------------


def test_answer_to_an_old_fetch_offset_is_ignored() -> None:
    leader, follower = _replica(0, 0, 1), _replica(1, 0, 1)
    _append(leader, 2)
    records = leader.log.read(0, max_bytes=1 << 20).to_bytes()
    assert follower.handle_fetch_response(0, ErrorCode.none, leader_high_watermark=2, records=records) is (
        FollowerFetchOutcome.APPENDED
    )
    assert follower.handle_fetch_response(0, ErrorCode.none, leader_high_watermark=2, records=records) is (
        FollowerFetchOutcome.STALE
    )
    assert follower.log.log_end_offset == 2


def test_records_that_cannot_follow_our_log_raise_and_change_nothing() -> None:
    follower = _replica(1, 0, 1)
    follower.append_as_follower(_batch_at(0, 2), 0, 0)
    with pytest.raises(InvalidRecord):
        follower.handle_fetch_response(2, ErrorCode.none, leader_high_watermark=3, records=_batch_at(1, 2))
    assert follower.log.log_end_offset == 2


def _batch_at(base_offset: int, count: int) -> bytes:
    p = _replica(0, 0, 1)
    if base_offset:
        p.log.truncate_fully_and_start_at(base_offset)
    p.append_as_leader(bytearray(make_batch([(None, b"x")] * count)), now_ms=0)
    return p.log.read(base_offset, max_bytes=1 << 20).to_bytes()


def test_hw_waits_for_a_member_whose_isr_expansion_is_in_flight() -> None:
    leader, f1 = _replica(0, 0, 1, isr=(0,)), _replica(1, 0, 1, isr=(0,))
    _append(leader, 2)
    replicate_once(leader, f1, 0)
    replicate_once(leader, f1, 0)
    expanded = leader.maybe_expand_isr(1)
    assert expanded == (0, 1)
    leader.pending_isr = expanded
    _append(leader, 1)
    assert leader.log.high_watermark == 2  # waits for replica 1 although the store has not answered
    assert leader.maybe_expand_isr(1) is None
    assert leader.maybe_shrink_isr(10_000) is None
