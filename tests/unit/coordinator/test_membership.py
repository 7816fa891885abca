"""JoinGroup / SyncGroup / Heartbeat / LeaveGroup through every state and timer, on a FakeClock."""

from brook.common.errors import ErrorCode
from tests.unit.coordinator.conftest import Env, make_env


def stable_group(env: Env, count: int, group: str = "g") -> list[str]:
    """Bring `count` members to Stable; returns their member ids (the first is the leader)."""
    ids: list[str] = []
    for i in range(count):
        pending = env.join_new(group, client_id=f"c{i}")
        if i == 0:
            ids.append(pending.result.member_id)
            env.sync(group, pending.result.generation_id, ids[0], {ids[0]: b"a0"})
            continue
        # Existing members learn of the rebalance from their heartbeat and rejoin.
        waiting = [pending]
        for mid in ids:
            gen = env.coordinator.describe_group(group)[1]
            assert gen is not None
            waiting.append(env.join(group, mid, client_id="x"))
        ids.append(pending.results[0].member_id if pending.done else "")
        results = [w.result for w in waiting]
        assert all(r.error_code == 0 for r in results)
        ids = [r.member_id for r in results[1:]] + [results[0].member_id]
        generation = results[0].generation_id
        leader = results[0].leader_id
        assignments = {mid: f"a{j}".encode() for j, mid in enumerate(ids)}
        syncs = [env.sync(group, generation, mid, assignments if mid == leader else {}) for mid in ids]
        assert all(s.result.error_code == 0 for s in syncs)
    assert env.state(group) == "Stable"
    return ids


def test_first_join_requires_member_id_then_completes(env):
    first = env.join()
    assert first.result.error_code == ErrorCode.member_id_required
    assert first.result.member_id.startswith("c-")
    assert env.state() == "Empty"
    second = env.join(member_id=first.result.member_id)
    r = second.result
    assert (r.error_code, r.generation_id, r.leader_id, r.protocol_name) == (0, 1, r.member_id, "range")
    assert r.members == [(r.member_id, None, b"meta-c")]
    assert env.state() == "CompletingRebalance"
    sync = env.sync("g", 1, r.member_id, {r.member_id: b"assignment"})
    assert sync.result.error_code == 0
    assert sync.result.assignment == b"assignment"
    assert env.state() == "Stable"


def test_old_versions_join_without_member_id_round_trip(env):
    r = env.join(require_known=False).result
    assert r.error_code == 0
    assert r.generation_id == 1


def test_new_member_triggers_rebalance_and_waits_for_existing_members(env):
    [leader] = stable_group(env, 1)
    newcomer = env.join_new(client_id="c1")
    assert not newcomer.done
    assert env.state() == "PreparingRebalance"
    assert env.coordinator.heartbeat("g", 1, leader, None) == ErrorCode.rebalance_in_progress
    rejoin = env.join("g", leader)
    assert rejoin.result.generation_id == 2
    assert rejoin.result.leader_id == leader
    assert len(rejoin.result.members) == 2
    assert newcomer.result.members == []
    assert newcomer.result.leader_id == leader
    # Follower syncs first and waits for the leader's assignment.
    follower_sync = env.sync("g", 2, newcomer.result.member_id)
    assert not follower_sync.done
    leader_sync = env.sync("g", 2, leader, {leader: b"L", newcomer.result.member_id: b"F"})
    assert leader_sync.result.assignment == b"L"
    assert follower_sync.result.assignment == b"F"
    assert env.coordinator.heartbeat("g", 2, newcomer.result.member_id, None) == 0


def test_member_that_does_not_rejoin_is_dropped_at_rebalance_timeout(env):
    [leader] = stable_group(env, 1)
    env.advance(5_000)
    assert env.coordinator.heartbeat("g", 1, leader, None) == 0
    newcomer = env.join_new(client_id="c1", rebalance_ms=20_000)
    for _ in range(29):  # the leader heartbeats (so its session lives) but never rejoins
        env.advance(1_000)
        assert env.coordinator.heartbeat("g", 1, leader, None) == ErrorCode.rebalance_in_progress
    assert not newcomer.done  # the group's rebalance timeout is the largest of its members' (30 s)
    env.advance(1_000)
    r = newcomer.result
    assert (r.error_code, r.generation_id, r.leader_id) == (0, 2, r.member_id)
    assert env.coordinator.heartbeat("g", 1, leader, None) == ErrorCode.unknown_member_id


def test_session_timeout_removes_silent_member_and_rebalances(env):
    a, b = stable_group(env, 2)
    for _ in range(2):
        env.advance(4_000)
        assert env.coordinator.heartbeat("g", 2, a, None) == 0
    env.advance(2_000)
    assert env.state() == "PreparingRebalance"  # b missed its 10 s session
    assert env.coordinator.heartbeat("g", 2, a, None) == ErrorCode.rebalance_in_progress
    r = env.join("g", a).result
    assert (r.generation_id, [m[0] for m in r.members]) == (3, [a])
    assert env.coordinator.heartbeat("g", 2, b, None) == ErrorCode.unknown_member_id


def test_last_member_timing_out_empties_group(env):
    [a] = stable_group(env, 1)
    env.advance(10_000)
    assert env.state() == "Empty"
    assert env.coordinator.heartbeat("g", 1, a, None) == ErrorCode.unknown_member_id


def test_follower_that_never_syncs_is_removed_after_rebalance_timeout(env):
    a, b = stable_group(env, 2)
    assert env.coordinator.leave_group("g", [(b, None)]) == (0, [0])
    # leave -> rebalance; a rejoins; a third member joins but never sends SyncGroup
    c = env.join_new(client_id="c2")
    r = env.join("g", a).result
    assert r.generation_id == 3
    assert c.result.generation_id == 3
    env.sync("g", 3, a, {a: b"x", c.result.member_id: b"y"})
    for _ in range(7):
        env.advance(4_500)
        env.coordinator.heartbeat("g", 3, a, None)
    assert env.state() == "PreparingRebalance"
    assert c.result.member_id not in [m.member_id for m in env.coordinator.describe_group("g")[1].members]


def test_join_validation_errors(env):
    assert env.join("").result.error_code == ErrorCode.invalid_group_id
    assert env.join(session_ms=1_000).result.error_code == ErrorCode.invalid_session_timeout
    assert env.join(session_ms=2_000_000).result.error_code == ErrorCode.invalid_session_timeout
    assert env.join(protocols=[]).result.error_code == ErrorCode.inconsistent_group_protocol
    assert env.join(protocol_type="").result.error_code == ErrorCode.inconsistent_group_protocol
    assert env.join(member_id="nobody").result.error_code == ErrorCode.unknown_member_id
    huge = [("range", b"x" * (2 * 1024 * 1024))]
    assert env.join(protocols=huge).result.error_code == ErrorCode.invalid_request
    stable_group(env, 1)
    assert env.join(protocol_type="connect").result.error_code == ErrorCode.inconsistent_group_protocol
    other = [("roundrobin", b"")]
    assert env.join(protocols=other).result.error_code == ErrorCode.inconsistent_group_protocol
    assert env.join(member_id="nobody").result.error_code == ErrorCode.unknown_member_id


def test_group_max_size():
    env = make_env(max_group_size=1)
    stable_group(env, 1)
    assert env.join(client_id="c1").result.error_code == ErrorCode.group_max_size_reached


def test_protocol_selection_votes_across_members(env):
    first = env.join_new(protocols=[("range", b"r"), ("roundrobin", b"rr")])
    assert first.result.protocol_name == "range"
    a = first.result.member_id
    env.sync("g", 1, a, {})
    b = env.join_new(client_id="c1", protocols=[("roundrobin", b"rr1"), ("sticky", b"s")])
    r = env.join("g", a, protocols=[("range", b"r"), ("roundrobin", b"rr")]).result
    assert r.protocol_name == "roundrobin"  # the only protocol both support
    assert dict((m[0], m[2]) for m in r.members) == {a: b"rr", b.result.member_id: b"rr1"}


def test_generation_and_member_fencing(env):
    a, _b = stable_group(env, 2)
    assert env.coordinator.heartbeat("g", 1, a, None) == ErrorCode.illegal_generation
    assert env.coordinator.heartbeat("g", 2, "ghost", None) == ErrorCode.unknown_member_id
    assert env.coordinator.heartbeat("nope", 2, a, None) == ErrorCode.unknown_member_id
    assert env.sync("g", 1, a).result.error_code == ErrorCode.illegal_generation
    assert env.sync("g", 2, "ghost").result.error_code == ErrorCode.unknown_member_id


def test_sync_during_preparing_rebalance_is_rejected(env):
    [a] = stable_group(env, 1)
    env.join_new(client_id="c1")
    assert env.sync("g", 1, a).result.error_code == ErrorCode.rebalance_in_progress


def test_rejoin_during_completing_rebalance_returns_current_generation(env):
    first = env.join_new()
    a = first.result.member_id
    again = env.join("g", a).result
    assert (again.error_code, again.generation_id, again.leader_id) == (0, 1, a)
    assert len(again.members) == 1
    assert env.state() == "CompletingRebalance"


def test_leader_rejoin_in_stable_group_triggers_rebalance(env):
    a, b = stable_group(env, 2)
    pending = env.join("g", a)
    assert not pending.done
    assert env.state() == "PreparingRebalance"
    env.join("g", b)
    assert pending.result.generation_id == 3


def test_follower_rejoin_with_same_metadata_does_not_rebalance(env):
    _a, b = stable_group(env, 2)
    r = env.join("g", b, client_id="c1").result
    assert (r.error_code, r.generation_id, r.members) == (0, 2, [])
    assert env.state() == "Stable"


def test_batch_leave_and_unknown_members(env):
    a, b = stable_group(env, 2)
    error, results = env.coordinator.leave_group("g", [(a, None), ("ghost", None), (b, None)])
    assert (error, results) == (0, [0, ErrorCode.unknown_member_id, 0])
    assert env.state() == "Empty"
    assert env.coordinator.leave_group("missing", [("x", None)]) == (0, [ErrorCode.unknown_member_id])


def test_leave_while_others_wait_completes_the_join(env):
    a, b = stable_group(env, 2)
    pending = env.join("g", a)
    assert env.coordinator.leave_group("g", [(b, None)]) == (0, [0])
    assert pending.result.generation_id == 3
    assert [m[0] for m in pending.result.members] == [a]


def test_pending_member_id_expires_after_session_timeout(env):
    first = env.join()
    env.advance(10_000)
    assert env.join(member_id=first.result.member_id).result.error_code == ErrorCode.unknown_member_id


def test_initial_rebalance_delay_waits_and_extends_for_new_members():
    env = make_env(initial_rebalance_delay_ms=3_000)
    a = env.join_new(client_id="a")
    assert not a.done
    env.advance(2_000)
    b = env.join_new(client_id="b")
    env.advance(1_000)  # first delay over, but b arrived: wait another delay
    assert not a.done
    env.advance(3_000)
    assert a.result.generation_id == b.result.generation_id == 1
    assert len(a.result.members) == 2


def test_static_member_restart_causes_no_rebalance(env):
    first = env.join(instance="i1", client_id="s1")
    a = first.result.member_id
    env.sync("g", 1, a, {a: b"A"})
    second = env.join(instance="i2", client_id="s2")
    b_id = second.results and second.result.member_id
    r = env.join("g", a, instance="i1", client_id="s1").result
    assert r.generation_id == 2
    b_id = second.result.member_id
    env.sync("g", 2, a, {a: b"A2", b_id: b"B2"})
    env.sync("g", 2, b_id)
    # s2 restarts: new join without member id, same instance id, within the session timeout
    restarted = env.join(instance="i2", client_id="s2").result
    assert restarted.error_code == 0
    assert restarted.generation_id == 2
    assert restarted.leader_id == a
    assert restarted.member_id != b_id
    assert env.state() == "Stable"
    sync = env.sync("g", 2, restarted.member_id).result
    assert sync.assignment == b"B2"
    # the old incarnation is fenced
    assert env.coordinator.heartbeat("g", 2, b_id, "i2") == ErrorCode.fenced_instance_id
    assert env.coordinator.heartbeat("g", 2, restarted.member_id, "i2") == 0


def test_static_leader_restart_gets_old_leader_id(env):
    first = env.join(instance="i1")
    a = first.result.member_id
    env.sync("g", 1, a, {a: b"A"})
    r = env.join(instance="i1").result
    assert r.leader_id == a != r.member_id
    assert r.members == []
    assert env.sync("g", 1, r.member_id).result.assignment == b"A"


def test_static_member_not_rejoining_keeps_its_place(env):
    first = env.join(instance="i1", client_id="s1")
    a = first.result.member_id
    env.sync("g", 1, a, {a: b"A"})
    b = env.join_new(client_id="dyn")
    for _ in range(30):  # rebalance timeout: the static member heartbeats, does not rejoin, but stays
        env.advance(1_000)
        env.coordinator.heartbeat("g", 1, a, "i1")
    assert b.result.generation_id == 2
    members = [m.member_id for m in env.coordinator.describe_group("g")[1].members]
    assert set(members) == {a, b.result.member_id}


def test_expired_join_of_removed_member_answers_unknown_member(env):
    _a, b = stable_group(env, 2)
    pending = env.join("g", b)
    _error, results = env.coordinator.leave_group("g", [(b, None)])
    assert results == [0]
    assert pending.result.error_code == ErrorCode.unknown_member_id


def test_list_and_describe_groups(env):
    a, b = stable_group(env, 2)
    env.join_new("other", client_id="o")
    error, groups = env.coordinator.list_groups()
    assert error == 0
    assert sorted(groups) == [("g", "consumer", "Stable"), ("other", "consumer", "CompletingRebalance")]
    assert env.coordinator.list_groups(["stable"])[1] == [("g", "consumer", "Stable")]
    error, d = env.coordinator.describe_group("g")
    assert (d.state, d.protocol_type, d.protocol_name) == ("Stable", "consumer", "range")
    assert {m.member_id: m.assignment for m in d.members} == {a: b"a0", b: b"a1"}
    assert env.coordinator.describe_group("missing")[1].state == "Dead"


def test_unowned_and_loading_partitions():
    env = make_env()
    p = env.coordinator.partition_for("g")
    env.coordinator.unload(p)
    assert env.join().result.error_code == ErrorCode.not_coordinator
    env.coordinator.begin_loading(p)
    assert env.join().result.error_code == ErrorCode.coordinator_load_in_progress
    assert env.coordinator.list_groups()[0] == ErrorCode.coordinator_load_in_progress
    env.coordinator.finish_loading(p)
    assert env.join().result.error_code == ErrorCode.member_id_required


def test_unload_fails_pending_joins_with_not_coordinator(env):
    [_a] = stable_group(env, 1)
    pending = env.join_new(client_id="c1")
    env.coordinator.unload(env.coordinator.partition_for("g"))
    assert pending.result.error_code == ErrorCode.not_coordinator
