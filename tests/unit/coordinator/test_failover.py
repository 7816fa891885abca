"""Coordinator failover: commits count only once the ISR has them, and a coordinator that lost its
`__consumer_offsets` partition never answers from its old cache (Kafka's GroupMetadataManager rules)."""

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import GroupCoordinator
from brook.coordinator import offsets_topic as ot
from brook.coordinator.fence import PauseFence, followers_confirm
from brook.coordinator.state import group_store_error, offset_commit_error
from tests.unit.coordinator.conftest import PARTITIONS, Env, make_env
from tests.unit.coordinator.test_membership import stable_group

T0 = TopicPartition("t", 0)
P = ot.partition_for("g", PARTITIONS)


class Answers:
    def __init__(self) -> None:
        self.got: list = []

    def __call__(self, error, results) -> None:
        self.got.append((error, results))

    @property
    def answer(self):
        assert len(self.got) == 1, self.got
        return self.got[0]


def commit(env: Env, offset: int, group: str = "g", generation: int = -1, member: str = "") -> Answers:
    answers = Answers()
    env.coordinator.commit_offsets(group, generation, member, None, {T0: (offset, 1, "")}, answers)
    return answers


def committed(coordinator: GroupCoordinator, group: str = "g"):
    error, [(_tp, om)] = coordinator.fetch_offsets(group, [T0])
    assert error == ErrorCode.none
    return None if om is None else om.offset


def test_commit_is_answered_and_visible_only_once_the_isr_has_it(env):
    commit(env, 10)
    env.writer.hold = True
    pending = commit(env, 20)
    assert pending.got == []  # not acknowledged yet
    assert committed(env.coordinator) == 10  # OffsetFetch still sees the last replicated commit
    env.writer.replicate()
    assert pending.answer == (ErrorCode.none, {T0: ErrorCode.none})
    assert committed(env.coordinator) == 20


@pytest.mark.parametrize(
    ("produce_error", "answer"),
    [
        (ErrorCode.not_leader_or_follower, ErrorCode.not_coordinator),
        (ErrorCode.not_enough_replicas_after_append, ErrorCode.coordinator_not_available),
        (ErrorCode.request_timed_out, ErrorCode.request_timed_out),
        (ErrorCode.kafka_storage_error, ErrorCode.not_coordinator),
    ],
)
def test_failed_replication_answers_kafkas_code_and_leaves_the_cache(env, produce_error, answer):
    commit(env, 10)
    env.writer.hold = True
    pending = commit(env, 20)
    env.writer.replicate(code=produce_error)
    assert pending.answer == (ErrorCode.none, {T0: answer})
    assert committed(env.coordinator) == 10


def test_a_late_answer_for_an_older_commit_never_overwrites_a_newer_one(env):
    env.writer.hold = True
    older, newer = commit(env, 10), commit(env, 20)
    env.writer.replicate(1)  # the newer write is answered first
    env.writer.replicate(0)
    assert older.answer[1] == newer.answer[1] == {T0: ErrorCode.none}
    assert committed(env.coordinator) == 20


def test_failed_newer_commit_keeps_the_older_replicated_one(env):
    env.writer.hold = True
    older, newer = commit(env, 10), commit(env, 20)
    env.writer.replicate(1, ErrorCode.not_enough_replicas_after_append)
    env.writer.replicate(0)
    assert newer.answer[1] == {T0: ErrorCode.coordinator_not_available}
    assert older.answer[1] == {T0: ErrorCode.none}
    assert committed(env.coordinator) == 10


def test_deleted_offsets_are_not_brought_back_by_a_commit_in_flight(env):
    commit(env, 10)
    env.writer.hold = True
    pending = commit(env, 20)
    assert env.coordinator.delete_offsets("g", [T0]) == (ErrorCode.none, {T0: ErrorCode.none})
    env.writer.replicate()
    assert pending.answer[1] == {T0: ErrorCode.none}
    assert committed(env.coordinator) is None


def test_unloading_while_a_commit_waits_answers_not_coordinator_and_the_log_decides(env):
    commit(env, 10)
    env.writer.hold = True
    pending = commit(env, 20)
    env.coordinator.unload(P)
    env.writer.replicate()  # the ISR did get it, but this broker no longer coordinates the group
    assert pending.answer == (ErrorCode.none, {T0: ErrorCode.not_coordinator})
    assert env.coordinator.fetch_offsets("g", [T0]) == (ErrorCode.not_coordinator, [])
    # The next leader replays the whole log, past its high watermark: it has the commit.
    env.coordinator.begin_loading(P, 2)
    for key, value in env.writer.records[P]:
        env.coordinator.replay(P, key, value)
    env.coordinator.finish_loading(P)
    assert committed(env.coordinator) == 20


class Leadership:
    """What the broker's replica manager says: our leader epoch per partition, None if not leader."""

    def __init__(self, epoch: int | None = 1) -> None:
        self.epoch = epoch

    def __call__(self, partition: int) -> int | None:
        return self.epoch


def leadership_env(leadership: Leadership) -> Env:
    env = make_env()
    coordinator = GroupCoordinator(env.config, env.writer, env.clock, leadership)
    for p in range(PARTITIONS):
        coordinator.begin_loading(p, 1)
        coordinator.finish_loading(p)
    env.coordinator = coordinator
    return env


def test_a_coordinator_that_lost_leadership_answers_nothing_from_its_cache():
    leadership = Leadership(1)
    env = leadership_env(leadership)
    a, _b = stable_group(env, 2)
    assert commit(env, 10, generation=2, member=a).answer[1] == {T0: ErrorCode.none}
    leadership.epoch = None  # another broker leads the partition now; nothing unloaded us yet
    assert env.coordinator.fetch_offsets("g", [T0]) == (ErrorCode.not_coordinator, [])
    assert commit(env, 11, generation=2, member=a).answer == (ErrorCode.not_coordinator, {})
    assert env.coordinator.heartbeat("g", 2, a, None) == ErrorCode.not_coordinator
    assert env.coordinator.list_groups() == (ErrorCode.none, [])
    leadership.epoch = 2  # leader again, in a later epoch: the log may have changed meanwhile
    assert env.coordinator.fetch_offsets("g", [T0]) == (ErrorCode.coordinator_load_in_progress, [])
    env.coordinator.begin_loading(P, 2)
    for key, value in env.writer.records[P]:
        env.coordinator.replay(P, key, value)
    env.coordinator.finish_loading(P)
    assert committed(env.coordinator) == 10
    assert env.coordinator.owned_epoch(P) == 2


def test_a_partition_led_here_but_not_taken_over_yet_answers_loading():
    """FindCoordinator names the leader of the group's partition from the metadata; the coordinator takes the
    partition over a moment later. Meanwhile Kafka's answer is COORDINATOR_LOAD_IN_PROGRESS (retried where it
    is asked), not NOT_COORDINATOR (which sends the client to look for a coordinator it has already found)."""
    leadership = Leadership(1)
    env = make_env()
    env.coordinator = GroupCoordinator(env.config, env.writer, env.clock, leadership)
    assert env.coordinator.fetch_offsets("g", [T0]) == (ErrorCode.coordinator_load_in_progress, [])
    assert commit(env, 10).answer == (ErrorCode.coordinator_load_in_progress, {})
    leadership.epoch = None  # not led here
    assert env.coordinator.fetch_offsets("g", [T0]) == (ErrorCode.not_coordinator, [])
    leadership.epoch = 1
    env.coordinator.begin_loading(P, 1)
    env.coordinator.finish_loading(P)
    assert commit(env, 10).answer == (ErrorCode.none, {T0: ErrorCode.none})


def test_reloading_in_a_new_epoch_drops_the_old_cache_and_fails_parked_calls():
    leadership = Leadership(1)
    env = leadership_env(leadership)
    env.writer.hold = True
    pending = commit(env, 10)  # waits for the ISR
    first = env.join_new("g", client_id="c0").result
    parked = env.sync("g", first.generation_id, first.member_id, {first.member_id: b"mine"})
    assert not parked.done  # waits for its assignment to be replicated
    leadership.epoch = 2
    env.coordinator.begin_loading(P, 2)  # unloads epoch 1 first
    assert parked.result.error_code == ErrorCode.not_coordinator
    env.writer.replicate()
    env.writer.replicate()
    assert pending.answer == (ErrorCode.none, {T0: ErrorCode.not_coordinator})
    assert parked.result.error_code == ErrorCode.not_coordinator  # answered once
    assert env.coordinator.fetch_offsets("g", [T0]) == (ErrorCode.coordinator_load_in_progress, [])


def test_sync_group_answers_once_the_assignment_is_replicated(env):
    first = env.join_new("g", client_id="c0").result
    env.writer.hold = True
    sync = env.sync("g", first.generation_id, first.member_id, {first.member_id: b"mine"})
    assert not sync.done
    assert env.state() == "CompletingRebalance"
    env.writer.replicate()
    assert (sync.result.error_code, sync.result.assignment) == (ErrorCode.none, b"mine")
    assert env.state() == "Stable"


def test_sync_group_whose_assignment_times_out_rebalances(env):
    first = env.join_new("g", client_id="c0").result
    env.writer.hold = True
    sync = env.sync("g", first.generation_id, first.member_id, {first.member_id: b"mine"})
    env.writer.replicate(code=ErrorCode.request_timed_out)
    assert sync.result.error_code == ErrorCode.rebalance_in_progress
    assert env.state() == "PreparingRebalance"


def test_error_mappings_follow_kafka():
    assert offset_commit_error(ErrorCode.not_enough_replicas) == ErrorCode.coordinator_not_available
    assert offset_commit_error(ErrorCode.unknown_topic_or_partition) == ErrorCode.coordinator_not_available
    assert offset_commit_error(ErrorCode.message_too_large) == ErrorCode.invalid_commit_offset_size
    assert offset_commit_error(ErrorCode.none) == ErrorCode.none
    assert group_store_error(ErrorCode.request_timed_out) == ErrorCode.rebalance_in_progress
    assert group_store_error(ErrorCode.not_leader_or_follower) == ErrorCode.not_coordinator
    assert group_store_error(ErrorCode.record_list_too_large) == ErrorCode.unknown_server_error


def test_pause_fence_stops_serving_after_a_freeze_for_one_session_timeout():
    clock = FakeClock()
    fence = PauseFence(session_timeout_ms=6_000)
    assert fence.allows(clock.monotonic_ms())
    for _ in range(20):  # ordinary ticks, even slow ones
        clock.advance(900)
        assert not fence.observe(clock.monotonic_ms())
        assert fence.allows(clock.monotonic_ms())
    clock.advance(10_000)  # SIGSTOP: a request may run before the next tick does
    assert not fence.allows(clock.monotonic_ms())
    assert fence.observe(clock.monotonic_ms())
    for _ in range(59):  # ticks again every 100 ms: still fenced for one session timeout
        clock.advance(100)
        assert not fence.observe(clock.monotonic_ms())
        assert not fence.allows(clock.monotonic_ms())
    clock.advance(100)
    assert not fence.observe(clock.monotonic_ms())
    assert fence.allows(clock.monotonic_ms())


def test_offsets_topic_waits_for_its_replication_factor_except_on_a_single_node():
    assert ot.replication_factor(3, 1, single_node=True) == 1
    assert ot.replication_factor(3, 2, single_node=False) is None  # COORDINATOR_NOT_AVAILABLE
    assert ot.replication_factor(3, 3, single_node=False) == 3
    assert ot.replication_factor(1, 3, single_node=False) == 1
    assert ot.replication_factor(3, 0, single_node=True) is None


def test_after_a_pause_a_partition_is_ours_again_only_once_the_isr_fetched_from_us():
    resumed = 5_000
    assert followers_confirm((0, 1, 2), 0, {1: 5_100, 2: 5_000}, resumed)
    assert not followers_confirm((0, 1, 2), 0, {1: 5_100, 2: 4_900}, resumed)  # 2 follows someone else
    assert not followers_confirm((0, 1), 0, {}, resumed)
    assert followers_confirm((0,), 0, {}, resumed)  # alone in the ISR: nobody else can lead


def test_a_static_member_id_change_that_is_not_replicated_is_reverted(env):
    first = env.join("g", instance="i1", client_id="c0").result
    env.sync("g", first.generation_id, first.member_id, {first.member_id: b"mine"})
    assert env.state() == "Stable"
    env.writer.hold = True
    rejoin = env.join("g", instance="i1", client_id="c0")  # restarted: new member id, no rebalance
    assert not rejoin.done  # answered once the new member id is replicated
    env.writer.replicate(code=ErrorCode.not_enough_replicas_after_append)
    assert (rejoin.result.error_code, rejoin.result.member_id) == (ErrorCode.coordinator_not_available, "")
    assert env.coordinator.heartbeat("g", first.generation_id, first.member_id, "i1") == ErrorCode.none
    assert env.state() == "Stable"

    again = env.join("g", instance="i1", client_id="c0")
    env.writer.replicate()
    assert again.result.error_code == ErrorCode.none
    assert again.result.member_id != first.member_id
    assert env.coordinator.heartbeat("g", first.generation_id, again.result.member_id, "i1") == ErrorCode.none
