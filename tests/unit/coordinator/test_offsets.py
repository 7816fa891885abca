"""OffsetCommit / OffsetFetch / OffsetDelete / DeleteGroups, replay from the log, and retention."""

from brook.common.errors import ErrorCode, LogDirOffline, NotEnoughReplicas, NotLeaderOrFollower
from brook.common.types import TopicPartition
from brook.coordinator import GroupCoordinator
from brook.coordinator import offsets_topic as ot
from tests.unit.coordinator.conftest import PARTITIONS, Env, make_env
from tests.unit.coordinator.test_membership import stable_group

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)


def commit_now(env: Env, group: str, generation: int, member: str, tps: dict, **kwargs: int):
    """OffsetCommit answered synchronously (the writer's ISR answers at once unless held)."""
    answers: list = []
    env.coordinator.commit_offsets(
        group,
        generation,
        member,
        None,
        tps,
        lambda error, results: answers.append((error, results)),
        **kwargs,
    )
    assert len(answers) == 1, answers
    return answers[0]


def commit(env: Env, group: str = "g", generation: int = -1, member: str = "", **offsets: int):
    tps = {TopicPartition("t", int(k[1:])): (v, 3, f"m{v}") for k, v in offsets.items()}
    return commit_now(env, group, generation, member, tps)


def fetched(env: Env, group: str = "g", tps: list[TopicPartition] | None = None) -> dict:
    error, entries = env.coordinator.fetch_offsets(group, tps)
    assert error == 0
    return {tp: (om.offset, om.leader_epoch, om.metadata) if om else None for tp, om in entries}


def reloaded(env: Env) -> GroupCoordinator:
    """A fresh coordinator that replays everything the first one wrote."""
    fresh = GroupCoordinator(env.config, env.writer, env.clock)
    for p in range(PARTITIONS):
        fresh.begin_loading(p)
        for key, value in env.writer.records.get(p, []):
            fresh.replay(p, key, value)
        fresh.finish_loading(p)
    return fresh


def test_simple_commit_without_membership_then_fetch(env):
    assert commit(env, p0=10, p1=20) == (0, {T0: 0, T1: 0})
    assert fetched(env, tps=[T0, T1, TopicPartition("t", 2)]) == {
        T0: (10, 3, "m10"),
        T1: (20, 3, "m20"),
        TopicPartition("t", 2): None,
    }
    assert fetched(env) == {T0: (10, 3, "m10"), T1: (20, 3, "m20")}
    assert fetched(env, "unknown-group", [T0]) == {T0: None}


def test_commit_is_written_in_kafka_format_to_the_groups_partition(env):
    commit(env, p0=10)
    partition = ot.partition_for("g", PARTITIONS)
    [(key, value)] = env.writer.records[partition]
    assert ot.decode_key(key) == ot.OffsetCommitKey("g", "t", 0)
    decoded = ot.decode_offset_commit_value(value)
    assert (decoded.offset, decoded.leader_epoch, decoded.metadata) == (10, 3, "m10")
    assert decoded.commit_timestamp == env.clock.now_ms()


def test_member_commits_are_fenced_by_generation_and_member_id(env):
    a, b = stable_group(env, 2)
    assert commit(env, generation=2, member=a, p0=5) == (0, {T0: 0})
    assert commit(env, generation=1, member=a, p0=6) == (ErrorCode.illegal_generation, {})
    assert commit(env, generation=2, member="zombie", p0=6) == (ErrorCode.unknown_member_id, {})
    assert commit(env, p0=6) == (ErrorCode.unknown_member_id, {})  # no generation: not in a live group
    env.coordinator.leave_group("g", [(b, None)])
    # a's generation is still current while the group prepares the rebalance: commits are allowed
    assert commit(env, generation=2, member=a, p0=7) == (0, {T0: 0})
    r = env.join("g", a).result
    assert r.generation_id == 3
    assert commit(env, generation=3, member=a, p0=8) == (ErrorCode.rebalance_in_progress, {})
    assert commit(env, generation=2, member=b, p0=9) == (ErrorCode.unknown_member_id, {})
    assert fetched(env, tps=[T0]) == {T0: (7, 3, "m7")}


def test_commit_to_unknown_group_with_generation_is_rejected(env):
    assert commit(env, generation=1, member="m", p0=1) == (ErrorCode.unknown_member_id, {})


def test_oversized_metadata_is_rejected_per_partition(env):
    big = "x" * 5000
    error, results = commit_now(env, "g", -1, "", {T0: (1, -1, big), T1: (2, -1, None)})
    assert (error, results) == (0, {T0: ErrorCode.offset_metadata_too_large, T1: 0})
    assert fetched(env, tps=[T0, T1]) == {T0: None, T1: (2, -1, "")}


def test_failed_append_is_not_acknowledged_nor_visible(env):
    commit(env, p0=1)
    env.writer.fail = NotLeaderOrFollower("moved")
    assert commit(env, p0=2) == (0, {T0: ErrorCode.not_coordinator})
    env.writer.fail = LogDirOffline("disk")  # KAFKA_STORAGE_ERROR: Kafka answers NOT_COORDINATOR
    assert commit(env, p0=3) == (0, {T0: ErrorCode.not_coordinator})
    env.writer.fail = NotEnoughReplicas("isr below min.insync.replicas")
    assert commit(env, p0=4) == (0, {T0: ErrorCode.coordinator_not_available})
    assert fetched(env, tps=[T0]) == {T0: (1, 3, "m1")}


def test_fetch_while_loading_never_returns_an_older_value(env):
    commit(env, p0=1)
    commit(env, p0=2)
    fresh = GroupCoordinator(env.config, env.writer, env.clock)
    p = ot.partition_for("g", PARTITIONS)
    fresh.begin_loading(p)
    for key, value in env.writer.records[p][:1]:
        fresh.replay(p, key, value)
    assert fresh.fetch_offsets("g", [T0]) == (ErrorCode.coordinator_load_in_progress, [])
    for key, value in env.writer.records[p][1:]:
        fresh.replay(p, key, value)
    fresh.finish_loading(p)
    error, [(_tp, om)] = fresh.fetch_offsets("g", [T0])
    assert (error, om.offset) == (0, 2)


def test_replay_restores_offsets_and_group_membership(env):
    a, b = stable_group(env, 2)
    commit(env, generation=2, member=a, p0=5, p1=6)
    fresh = reloaded(env)
    _, entries = fresh.fetch_offsets("g", None)
    assert [(tp, om.offset, om.metadata) for tp, om in entries] == [(T0, 5, "m5"), (T1, 6, "m6")]
    _error, d = fresh.describe_group("g")
    assert (d.state, {m.member_id: m.assignment for m in d.members}) == ("Stable", {a: b"a0", b: b"a1"})
    assert fresh.heartbeat("g", 2, a, None) == 0


def test_replay_skips_garbage_and_unknown_records(env):
    p = 0
    env.coordinator.begin_loading(p)
    env.coordinator.replay(p, None, b"x")
    env.coordinator.replay(p, b"\x00", b"x")
    env.coordinator.replay(p, b"\x00\x05abc", b"x")  # a newer record type brook does not use
    env.coordinator.replay(p, ot.encode_offset_commit_key("g", "t", 0), b"\x00\x03")
    env.coordinator.finish_loading(p)


def test_offsets_of_empty_group_expire_after_retention():
    env = make_env(offsets_retention_ms=60_000, offsets_retention_check_interval_ms=1_000)
    [a] = stable_group(env, 1)
    commit(env, generation=1, member=a, p0=5)
    env.advance(100_000)  # a member's session ends: the group becomes Empty now
    env.coordinator.heartbeat("g", 1, a, None)
    assert env.state() == "Empty"
    env.advance(59_000)
    assert fetched(env, tps=[T0]) == {T0: (5, 3, "m5")}
    env.advance(1_000)
    env.advance(1_000)
    assert fetched(env, tps=[T0]) == {T0: None}
    assert env.state() == "Dead"
    fresh = reloaded(env)
    assert fresh.fetch_offsets("g", [T0])[1] == [(T0, None)]
    assert fresh.list_groups()[1] == []


def test_simple_group_offsets_expire_from_commit_time():
    env = make_env(offsets_retention_ms=60_000, offsets_retention_check_interval_ms=1_000)
    commit(env, p0=1)
    env.advance(30_000)
    commit(env, p1=2)
    env.advance(31_000)
    assert fetched(env) == {T1: (2, 3, "m2")}


def test_explicit_retention_time_of_old_commit_versions():
    env = make_env(offsets_retention_check_interval_ms=1_000)
    commit_now(env, "g", -1, "", {T0: (1, -1, "")}, retention_ms=5_000)
    env.advance(4_000)
    assert fetched(env) == {T0: (1, -1, "")}
    env.advance(2_000)
    assert fetched(env) == {}


def test_delete_groups(env):
    _a, _b = stable_group(env, 2)
    commit(env, "simple", p0=1)
    assert env.coordinator.delete_groups(["g", "simple", "missing", ""]) == {
        "g": ErrorCode.non_empty_group,
        "simple": 0,
        "missing": ErrorCode.group_id_not_found,
        "": ErrorCode.invalid_group_id,
    }
    assert fetched(env, "simple") == {}
    assert reloaded(env).fetch_offsets("simple", None) == (0, [])


def test_offset_delete_refuses_subscribed_topics(env):
    sub = b"\x00\x01\x00\x00\x00\x01\x00\x01t\xff\xff\xff\xff"
    r = env.join_new(protocols=[("range", sub)]).result
    env.sync("g", 1, r.member_id, {})
    other = TopicPartition("u", 0)
    commit_now(env, "g", 1, r.member_id, {T0: (1, -1, ""), other: (2, -1, "")})
    assert env.coordinator.delete_offsets("g", [T0, other]) == (
        0,
        {T0: ErrorCode.group_subscribed_to_topic, other: 0},
    )
    assert fetched(env) == {T0: (1, -1, "")}
    env.coordinator.leave_group("g", [(r.member_id, None)])
    assert env.coordinator.delete_offsets("g", [T0]) == (0, {T0: 0})
    assert fetched(env) == {}
    assert env.coordinator.delete_offsets("missing", [T0]) == (ErrorCode.group_id_not_found, {})


def test_offset_delete_on_non_consumer_group_with_members(env):
    r = env.join_new(protocol_type="connect").result
    assert env.coordinator.delete_offsets("g", [T0]) == (ErrorCode.non_empty_group, {})
    assert r.error_code == 0
