"""The reassignment decisions (metadata/reassignment.py), called as the controller calls them."""

from brook.common.errors import ErrorCode
from brook.metadata.reassignment import (
    PartitionMove,
    Reassignment,
    cancel,
    completion,
    move_to,
    start,
    validate_target,
)

LIVE = {0, 1, 2, 3}


def test_start_holds_target_first_then_the_original_and_says_what_moves() -> None:
    moving = start(Reassignment((0, 1)), (1, 2))
    assert moving == Reassignment((1, 2, 0), adding=(2,), removing=(0,))
    assert moving.original == (1, 0)  # as Kafka: the original's members, in the assignment's order
    assert moving.target == (1, 2)
    assert moving.in_progress


def test_raising_the_replication_factor_removes_nothing() -> None:
    assert start(Reassignment((0,)), (0, 1, 2)) == Reassignment((0, 1, 2), adding=(1, 2))


def test_a_target_equal_to_the_replicas_is_no_reassignment() -> None:
    assert start(Reassignment((2, 0, 1)), (2, 0, 1)) == Reassignment((2, 0, 1))
    assert not start(Reassignment((2, 0, 1)), (0, 1, 2)).in_progress  # a new order only


def test_a_new_target_replaces_one_in_progress_from_the_same_original() -> None:
    first = start(Reassignment((0,)), (1,))
    assert first == Reassignment((1, 0), adding=(1,), removing=(0,))
    second = start(first, (2,))
    assert second == Reassignment((2, 0), adding=(2,), removing=(0,))  # 1 is dropped at once
    assert start(first, (0,)) == Reassignment((0,))  # back to the original: nothing moves


def test_cancel_goes_back_to_the_original_and_refuses_when_nothing_moves() -> None:
    assert cancel(Reassignment((1, 2, 0), adding=(2,), removing=(0,))) == Reassignment((1, 0))
    refused = cancel(Reassignment((0, 1)))
    assert isinstance(refused, tuple)
    assert refused[0] == ErrorCode.no_reassignment_in_progress


def test_completion_waits_for_every_target_replica_in_the_isr() -> None:
    moving = Reassignment((1, 2, 0), adding=(2,), removing=(0,))
    assert completion(moving, (0, 1)) is None
    assert completion(moving, (0, 2)) is None
    assert completion(moving, (0, 1, 2)) == Reassignment((1, 2))
    assert completion(Reassignment((0, 1)), (0, 1)) is None  # nothing in progress


def test_completion_of_a_shrink_needs_only_the_remaining_replicas_in_the_isr() -> None:
    shrinking = start(Reassignment((0, 1, 2)), (0, 1))
    assert shrinking == Reassignment((0, 1, 2), removing=(2,))
    assert completion(shrinking, (1, 0)) == Reassignment((0, 1))


def test_a_leader_that_stays_a_replica_keeps_its_epoch_and_the_isr_keeps_only_replicas() -> None:
    moved = move_to(Reassignment((1, 2)), 1, 7, (0, 1, 2), LIVE)
    assert moved == PartitionMove(Reassignment((1, 2)), 1, 7, (1, 2))


def test_a_removed_leader_hands_over_to_the_first_live_isr_replica_in_a_new_epoch() -> None:
    moved = move_to(Reassignment((1, 2)), 0, 7, (0, 2, 1), LIVE)
    assert moved == PartitionMove(Reassignment((1, 2)), 1, 8, (2, 1))
    dead_one = move_to(Reassignment((1, 2)), 0, 7, (0, 1, 2), {0, 2})
    assert dead_one == PartitionMove(Reassignment((1, 2)), 2, 8, (1, 2))


def test_a_move_that_would_leave_no_isr_member_is_refused() -> None:
    refused = move_to(Reassignment((2, 3)), 0, 7, (0, 1), LIVE)
    assert isinstance(refused, tuple)
    assert refused[0] == ErrorCode.invalid_replica_assignment
    no_live_leader = move_to(Reassignment((1, 2)), 0, 7, (0, 1), {0, 2})
    assert isinstance(no_live_leader, tuple)


def test_an_offline_partition_keeps_no_leader() -> None:
    assert move_to(Reassignment((1, 0)), -1, 3, (0,), LIVE) == PartitionMove(
        Reassignment((1, 0)), -1, 3, (0,)
    )


def test_targets_are_checked_as_kafka_checks_a_manual_assignment() -> None:
    assert validate_target((1, 2), LIVE, 2, allow_size_change=False) is None
    assert validate_target((1, 2, 3), LIVE, 2, allow_size_change=True) is None
    for bad in ((), (1, 1), (1, 9)):
        refused = validate_target(bad, LIVE, 2, allow_size_change=True)
        assert refused is not None, bad
        assert refused[0] == ErrorCode.invalid_replica_assignment, bad
    resized = validate_target((1, 2, 3), LIVE, 2, allow_size_change=False)
    assert resized is not None
    assert resized[0] == ErrorCode.invalid_replication_factor
