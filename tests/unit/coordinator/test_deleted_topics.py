"""A deleted topic's committed offsets leave every group (Kafka's handleDeletedPartitions)."""

from brook.common.errors import ErrorCode, NotLeaderOrFollower
from brook.common.types import TopicPartition
from brook.coordinator import offsets_topic as ot
from tests.unit.coordinator.conftest import Env
from tests.unit.coordinator.test_membership import stable_group
from tests.unit.coordinator.test_offsets import commit_now, fetched, reloaded

GONE0, GONE1 = TopicPartition("gone", 0), TopicPartition("gone", 1)
KEPT = TopicPartition("kept", 0)


def commit_to(
    env: Env, group: str, offsets: dict[TopicPartition, int], generation: int = -1, member: str = ""
):
    tps = {tp: (offset, -1, "") for tp, offset in offsets.items()}
    return commit_now(env, group, generation, member, tps)


def list_group_ids(env: Env) -> list[str]:
    error, groups = env.coordinator.list_groups()
    assert error == 0
    return sorted(g for g, _, _ in groups)


def test_offsets_of_a_deleted_topic_go_with_tombstones_and_stay_gone_after_reload(env):
    commit_to(env, "g", {GONE0: 5, GONE1: 7, KEPT: 3})
    commit_to(env, "h", {GONE0: 1})
    assert env.coordinator.remove_deleted_topics(["gone"]) == 3
    assert fetched(env, "g") == {KEPT: (3, -1, "")}
    assert fetched(env, "g", [GONE0, GONE1]) == {GONE0: None, GONE1: None}
    # the group left with no offset (and no member) is Dead: gone from ListGroups, described as Dead
    assert list_group_ids(env) == ["g"]
    assert env.state("h") == "Dead"
    tombstones = [
        ot.decode_key(key)
        for records in env.writer.records.values()
        for key, value in records
        if value is None
    ]
    assert ot.OffsetCommitKey("g", "gone", 0) in tombstones
    assert ot.OffsetCommitKey("g", "gone", 1) in tombstones
    assert ot.OffsetCommitKey("h", "gone", 0) in tombstones
    assert ot.GroupMetadataKey("h") in tombstones
    fresh = reloaded(env)
    assert fresh.fetch_offsets("g", None) == (0, [(KEPT, fresh.fetch_offsets("g", [KEPT])[1][0][1])])
    assert fresh.fetch_offsets("h", None) == (0, [])


def test_a_group_with_members_keeps_living_without_the_deleted_offsets(env):
    a, _ = stable_group(env, 2)
    commit_to(env, "g", {GONE0: 9}, generation=2, member=a)
    assert env.coordinator.remove_deleted_topics(["gone"]) == 1
    assert fetched(env, "g") == {}
    assert env.state("g") == "Stable"


def test_other_topics_and_unknown_deletions_change_nothing(env):
    commit_to(env, "g", {KEPT: 3})
    written = {p: list(r) for p, r in env.writer.records.items()}
    assert env.coordinator.remove_deleted_topics(["gone", "never-existed"]) == 0
    assert env.writer.records == written
    assert fetched(env, "g") == {KEPT: (3, -1, "")}


def test_a_commit_still_waiting_for_the_isr_does_not_bring_a_deleted_topic_back(env):
    env.writer.hold = True
    answers: list = []
    env.coordinator.commit_offsets(
        "g", -1, "", None, {GONE0: (4, -1, "")}, lambda e, r: answers.append((e, r))
    )
    assert env.coordinator.remove_deleted_topics(["gone"]) == 1
    env.writer.replicate()
    # the group went Dead meanwhile: the client retries, and the topic is unknown by then
    assert answers == [(0, {GONE0: ErrorCode.not_coordinator})]
    assert fetched(env, "g") == {}
    assert reloaded(env).fetch_offsets("g", None) == (0, [])


def test_a_partition_loading_during_the_deletion_drops_the_offsets_once_loaded(env):
    commit_to(env, "g", {GONE0: 5, KEPT: 2})
    partition = env.coordinator.partition_for("g")
    fresh = reloaded(env)
    fresh.begin_loading(partition)
    for key, value in env.writer.records[partition]:
        fresh.replay(partition, key, value)
    assert fresh.remove_deleted_topics(["gone"]) == 0  # not served yet
    fresh.finish_loading(partition)
    error, entries = fresh.fetch_offsets("g", None)
    assert (error, [tp for tp, _ in entries]) == (0, [KEPT])


def test_a_failed_tombstone_write_keeps_the_offsets(env):
    commit_to(env, "g", {GONE0: 5})
    env.writer.fail = NotLeaderOrFollower("moved")
    assert env.coordinator.remove_deleted_topics(["gone"]) == 0
    assert fetched(env, "g") == {GONE0: (5, -1, "")}


def test_removal_can_be_limited_to_one_offsets_partition(env):
    groups = ["g", "h", "i", "j", "k"]
    for group in groups:
        commit_to(env, group, {GONE0: 1, KEPT: 2})
    target = env.coordinator.partition_for("g")
    inside = [g for g in groups if env.coordinator.partition_for(g) == target]
    assert inside == ["g", "k"]
    assert env.coordinator.committed_topics(target) == {"gone", "kept"}
    assert env.coordinator.remove_deleted_topics(["gone"], partition=target) == len(inside)
    assert env.coordinator.committed_topics(target) == {"kept"}
    for group in groups:
        expected = {KEPT: (2, -1, "")} if group in inside else {GONE0: (1, -1, ""), KEPT: (2, -1, "")}
        assert fetched(env, group) == expected
