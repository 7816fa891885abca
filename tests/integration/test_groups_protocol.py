"""Group APIs at the wire level (raw client): old and new versions, fencing, bad input, stuck members."""

from __future__ import annotations

import struct
import time

import pytest

from brook.testing import BrookProcess
from tests.integration.raw_client import RawClient

NONE = 0
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
INVALID_REQUEST = 42
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
FENCED_INSTANCE_ID = 82
GROUP_SUBSCRIBED_TO_TOPIC = 86


def subscription(*topics: str) -> bytes:
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("brook")) as b:
        client = RawClient(b.bootstrap)
        client.request(10, 3, {"key": "warm-up", "key_type": 0})  # creates __consumer_offsets
        client.request(19, 4, {"topics": [_topic("t", 3)], "timeout": 5000, "validate_only": False})
        client.close()
        yield b


def _topic(name: str, partitions: int) -> dict:
    return {
        "name": name,
        "num_partitions": partitions,
        "replication_factor": 1,
        "assignments": [],
        "configs": [],
    }


@pytest.fixture
def client(broker):
    c = RawClient(broker.bootstrap, timeout_s=20)
    yield c
    c.close()


def join_body(group: str, member_id: str = "", *, session_ms=6000, rebalance_ms=10000, instance=None, **kw):
    return {
        "group_id": group,
        "session_timeout": session_ms,
        "rebalance_timeout": rebalance_ms,
        "member_id": member_id,
        "group_instance_id": instance,
        "protocol_type": kw.get("protocol_type", "consumer"),
        "protocols": kw.get("protocols", [{"name": "range", "metadata": subscription("t")}]),
    }


def join(client: RawClient, group: str, **kw):
    first = client.request(11, 7, join_body(group, **kw))
    if first.error_code != MEMBER_ID_REQUIRED:
        return first
    return client.request(11, 7, join_body(group, first.member_id, **kw))


def sync(client: RawClient, group: str, generation: int, member_id: str, assignments=()):
    body = {
        "group_id": group,
        "generation_id": generation,
        "member_id": member_id,
        "group_instance_id": None,
        "protocol_type": "consumer",
        "protocol_name": "range",
        "assignments": [{"member_id": m, "assignment": a} for m, a in assignments],
    }
    return client.request(14, 5, body)


def commit(client: RawClient, group: str, generation: int, member_id: str, offset: int, version: int = 8):
    body = {
        "group_id": group,
        "generation_id_or_member_epoch": generation,
        "member_id": member_id,
        "group_instance_id": None,
        "retention_time": -1,
        "topics": [
            {
                "name": "t",
                "partitions": [
                    {
                        "partition_index": 0,
                        "committed_offset": offset,
                        "committed_leader_epoch": -1,
                        "committed_metadata": f"m{offset}",
                    }
                ],
            }
        ],
    }
    response = client.request(8, version, body)
    return response.topics[0].partitions[0].error_code


def fetch(client: RawClient, group: str, version: int = 7) -> int:
    body = {"group_id": group, "topics": [{"name": "t", "partition_indexes": [0]}], "require_stable": False}
    return client.request(9, version, body).topics[0].partitions[0].committed_offset


def test_zombie_commit_after_rebalance_is_rejected(broker, client):
    other = RawClient(broker.bootstrap, timeout_s=20)
    a = join(client, "zombie")
    assert (a.error_code, a.generation_id) == (NONE, 1)
    assert sync(client, "zombie", 1, a.member_id, [(a.member_id, b"x")]).error_code == NONE
    assert commit(client, "zombie", 1, a.member_id, 5) == NONE

    b_first = other.request(11, 7, join_body("zombie"))
    _, pending = other.frame(11, 7, join_body("zombie", b_first.member_id))
    other.send_raw(pending)  # B's JoinGroup waits for the rebalance
    hb = client.request(12, 4, {"group_id": "zombie", "generation_id": 1, "member_id": a.member_id})
    assert hb.error_code == REBALANCE_IN_PROGRESS
    rejoined = client.request(11, 7, join_body("zombie", a.member_id))
    assert rejoined.generation_id == 2
    other.read_frame()

    # A stale generation: ILLEGAL_GENERATION; a member that left: UNKNOWN_MEMBER_ID.
    assert commit(client, "zombie", 1, a.member_id, 6) == ILLEGAL_GENERATION
    leave = client.request(13, 4, {"group_id": "zombie", "members": [{"member_id": a.member_id}]})
    assert [m.error_code for m in leave.members] == [NONE]
    assert commit(client, "zombie", 2, a.member_id, 7) == UNKNOWN_MEMBER_ID
    assert fetch(client, "zombie") == 5
    other.close()


def test_old_protocol_versions_round_trip(client):
    assert client.request(10, 0, {"key": "old"}).error_code == NONE
    joined = client.request(11, 0, join_body("old"))  # v0: no MEMBER_ID_REQUIRED, no rebalance timeout
    assert (joined.error_code, joined.generation_id, joined.leader) == (NONE, 1, joined.member_id)
    member = joined.member_id
    synced = client.request(
        14,
        0,
        {
            "group_id": "old",
            "generation_id": 1,
            "member_id": member,
            "assignments": [{"member_id": member, "assignment": b"A"}],
        },
    )
    assert (synced.error_code, synced.assignment) == (NONE, b"A")
    assert (
        client.request(12, 0, {"group_id": "old", "generation_id": 1, "member_id": member}).error_code == NONE
    )
    assert commit(client, "old", 1, member, 11, version=2) == NONE
    assert fetch(client, "old", version=1) == 11
    assert client.request(13, 0, {"group_id": "old", "member_id": member}).error_code == NONE
    assert client.request(13, 0, {"group_id": "old", "member_id": member}).error_code == UNKNOWN_MEMBER_ID


def test_batched_find_coordinator_and_multi_group_offset_fetch(broker, client):
    found = client.request(10, 4, {"key_type": 0, "coordinator_keys": ["a", "b", ""]})
    assert [(c.key, c.error_code) for c in found.coordinators] == [("a", 0), ("b", 0), ("", INVALID_REQUEST)]
    assert {c.port for c in found.coordinators[:2]} == {broker.port}
    commit(client, "multi-1", -1, "", 3)
    commit(client, "multi-2", -1, "", 4)
    body = {
        "groups": [
            {"group_id": "multi-1", "topics": [{"name": "t", "partition_indexes": [0, 1]}]},
            {"group_id": "multi-2", "topics": None},
            {"group_id": "", "topics": None},
        ],
        "require_stable": False,
    }
    groups = client.request(9, 8, body).groups
    assert [(p.partition_index, p.committed_offset) for p in groups[0].topics[0].partitions] == [
        (0, 3),
        (1, -1),
    ]
    assert groups[1].topics[0].partitions[0].committed_offset == 4
    assert groups[2].error_code == INVALID_GROUP_ID


def test_list_describe_delete_groups_and_offset_delete(client):
    a = join(client, "admin-g")
    sync(client, "admin-g", a.generation_id, a.member_id, [(a.member_id, b"assignment")])
    commit(client, "admin-g", a.generation_id, a.member_id, 9)
    listed = client.request(16, 4, {"states_filter": ["Stable"]}).groups
    assert ("admin-g", "consumer", "Stable") in [(g.group_id, g.protocol_type, g.group_state) for g in listed]
    described = client.request(15, 5, {"groups": ["admin-g", "nope"], "include_authorized_operations": False})
    g, nope = described.groups
    assert (g.group_state, g.protocol_data, [m.member_assignment for m in g.members]) == (
        "Stable",
        "range",
        [b"assignment"],
    )
    assert nope.group_state == "Dead"
    assert [(m.client_id, m.client_host) for m in g.members] == [("raw", "/127.0.0.1")]
    body = {"group_id": "admin-g", "topics": [{"name": "t", "partitions": [{"partition_index": 0}]}]}
    assert client.request(47, 0, body).topics[0].partitions[0].error_code == GROUP_SUBSCRIBED_TO_TOPIC
    deleted = client.request(42, 2, {"groups_names": ["admin-g", "never"]}).results
    assert [(r.group_id, r.error_code) for r in deleted] == [
        ("admin-g", NON_EMPTY_GROUP),
        ("never", GROUP_ID_NOT_FOUND),
    ]
    client.request(13, 4, {"group_id": "admin-g", "members": [{"member_id": a.member_id}]})
    assert client.request(47, 0, body).topics[0].partitions[0].error_code == NONE
    assert fetch(client, "admin-g") == -1
    assert client.request(42, 2, {"groups_names": ["admin-g"]}).results[0].error_code == NONE


def test_bad_join_requests_get_error_codes_and_the_broker_carries_on(client):
    assert client.request(11, 7, join_body("")).error_code == INVALID_GROUP_ID
    assert client.request(11, 7, join_body("bad", session_ms=10)).error_code == INVALID_SESSION_TIMEOUT
    assert client.request(11, 7, join_body("bad", protocol_type="")).error_code == INCONSISTENT_GROUP_PROTOCOL
    assert client.request(11, 7, join_body("bad", protocols=[])).error_code == INCONSISTENT_GROUP_PROTOCOL
    huge = [{"name": "range", "metadata": b"\x00" * (2 * 1024 * 1024)}]
    assert client.request(11, 7, join_body("bad", protocols=huge)).error_code == INVALID_REQUEST
    garbage = [{"name": "range", "metadata": b"\xff\xff\xff"}]
    assert join(client, "garbage", protocols=garbage).error_code == NONE  # opaque to the broker
    assert (
        client.request(12, 4, {"group_id": "", "generation_id": 1, "member_id": "x"}).error_code
        == INVALID_GROUP_ID
    )
    assert (
        client.request(18, 3, {"client_software_name": "t", "client_software_version": "1"}).error_code == 0
    )


def test_malformed_join_closes_only_that_connection(broker, client):
    bad = RawClient(broker.bootstrap)
    _, frame = bad.frame(11, 7, b"\x05\x00\x00")
    bad.send_raw(frame)
    assert bad.is_closed_by_peer()
    bad.close()
    assert (
        client.request(18, 3, {"client_software_name": "t", "client_software_version": "1"}).error_code == 0
    )


def test_member_that_never_rejoins_cannot_stall_the_group(broker, client):
    stuck = join(client, "stall", rebalance_ms=1500)
    sync(client, "stall", 1, stuck.member_id, [(stuck.member_id, b"")])
    other = RawClient(broker.bootstrap, timeout_s=20)
    started = time.monotonic()
    joined = join(other, "stall", rebalance_ms=1500)  # the stuck member never rejoins
    elapsed = time.monotonic() - started
    assert (joined.error_code, joined.generation_id, joined.leader) == (NONE, 2, joined.member_id)
    assert 1.0 <= elapsed <= 5.0, elapsed
    hb = client.request(12, 4, {"group_id": "stall", "generation_id": 1, "member_id": stuck.member_id})
    assert hb.error_code == UNKNOWN_MEMBER_ID
    other.close()


def test_leader_that_never_syncs_cannot_stall_followers(broker, client):
    leader = join(client, "nosync", rebalance_ms=1500)
    sync(client, "nosync", 1, leader.member_id, [])
    follower = RawClient(broker.bootstrap, timeout_s=20)
    first = follower.request(11, 7, join_body("nosync", rebalance_ms=1500))
    _, pending = follower.frame(11, 7, join_body("nosync", first.member_id, rebalance_ms=1500))
    follower.send_raw(pending)
    client.request(11, 7, join_body("nosync", leader.member_id, rebalance_ms=1500))  # completes gen 2
    follower.read_frame()
    started = time.monotonic()
    # The follower syncs; the leader never sends its SyncGroup.
    result = sync(follower, "nosync", 2, first.member_id)
    assert result.error_code == REBALANCE_IN_PROGRESS
    assert time.monotonic() - started <= 5.0
    follower.close()


def test_static_member_duplicate_is_fenced(client, broker):
    a = join(client, "fence", instance="i-1")
    sync(client, "fence", a.generation_id, a.member_id, [(a.member_id, b"A")])
    other = RawClient(broker.bootstrap)
    b = join(other, "fence", instance="i-1")  # a second process with the same group.instance.id
    assert b.error_code == NONE
    assert b.member_id != a.member_id
    hb = client.request(
        12,
        4,
        {
            "group_id": "fence",
            "generation_id": a.generation_id,
            "member_id": a.member_id,
            "group_instance_id": "i-1",
        },
    )
    assert hb.error_code == FENCED_INSTANCE_ID
    other.close()


def _join_any_version(client: RawClient, group: str, version: int):
    body = join_body(group)
    first = client.request(11, version, body)
    if first.error_code == MEMBER_ID_REQUIRED:
        return client.request(11, version, join_body(group, first.member_id))
    return first


@pytest.mark.parametrize("version", range(8))
def test_group_lifecycle_at_every_version(client, version):
    group = f"lifecycle-v{version}"
    sync_v, hb_v, leave_v = min(version, 5), min(version, 4), min(version, 4)
    assert client.request(10, min(version, 3), {"key": group, "key_type": 0}).error_code == NONE
    joined = _join_any_version(client, group, version)
    assert (joined.error_code, joined.generation_id, joined.leader) == (NONE, 1, joined.member_id)
    member = joined.member_id
    assert [m.member_id for m in joined.members] == [member]
    synced = client.request(
        14,
        sync_v,
        {
            "group_id": group,
            "generation_id": 1,
            "member_id": member,
            "group_instance_id": None,
            "protocol_type": "consumer",
            "protocol_name": "range",
            "assignments": [{"member_id": member, "assignment": b"A%d" % version}],
        },
    )
    assert (synced.error_code, synced.assignment) == (NONE, b"A%d" % version)
    body = {"group_id": group, "generation_id": 1, "member_id": member, "group_instance_id": None}
    assert client.request(12, hb_v, body).error_code == NONE
    for commit_v in range(2, 9):
        assert commit(client, group, 1, member, 100 * version + commit_v, version=commit_v) == NONE
        for fetch_v in range(1, 8):
            assert fetch(client, group, version=fetch_v) == 100 * version + commit_v
    described = client.request(
        15, min(version, 5), {"groups": [group], "include_authorized_operations": False}
    )
    assert described.groups[0].group_state == "Stable"
    listed = client.request(16, min(version, 4), {"states_filter": []})
    assert group in [g.group_id for g in listed.groups]
    if leave_v < 3:
        assert client.request(13, leave_v, {"group_id": group, "member_id": member}).error_code == NONE
    else:
        leave = client.request(13, leave_v, {"group_id": group, "members": [{"member_id": member}]})
        assert [m.error_code for m in leave.members] == [NONE]
    deleted = client.request(42, min(version, 2), {"groups_names": [group]})
    assert deleted.results[0].error_code == NONE


def test_batch_leave_by_group_instance_id(client):
    a = join(client, "batch-leave", instance="ia")
    sync(client, "batch-leave", 1, a.member_id, [(a.member_id, b"")])
    leave = client.request(
        13,
        4,
        {
            "group_id": "batch-leave",
            "members": [
                {"member_id": "", "group_instance_id": "ia"},
                {"member_id": "", "group_instance_id": "unknown"},
            ],
        },
    )
    assert [m.error_code for m in leave.members] == [NONE, UNKNOWN_MEMBER_ID]
    described = client.request(15, 5, {"groups": ["batch-leave"], "include_authorized_operations": False})
    assert described.groups[0].group_state == "Empty"
