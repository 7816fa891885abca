"""The Java consumer (kafka-clients 4.4.0 and 3.9.2) in groups against a real brook: range, cooperative-sticky and static
membership (classic protocol; group.protocol=consumer, KIP-848, is not in brook), commits and resuming, seek by time."""

from __future__ import annotations

from tests.integration.helpers import wait_until
from tests.integration.java.helpers import (
    assignment,
    create_topic,
    expected_values,
    open_consumer,
    produce,
    read,
    values,
    wait_assignments,
)


def test_range_group_split_leave_join_commit_and_resume(java, broker, names):
    topic, group = names("range"), names("range-g")
    create_topic(java, topic, 4)
    config = {
        "group.id": group,
        "partition.assignment.strategy": "org.apache.kafka.clients.consumer.RangeAssignor",
    }
    first = open_consumer(java, broker, names("m1"), subscribe=[topic], **config)
    wait_assignments(java, {first: 4})
    second = open_consumer(java, broker, names("m2"), subscribe=[topic], **config)
    held = wait_assignments(java, {first: 2, second: 2})
    # The range assignor gives each member a contiguous range of partitions.
    for partitions in held.values():
        numbers = sorted(p for _, p in partitions)
        assert numbers in ([0, 1], [2, 3])
    produce(java, broker, topic, 4, 5, "a")

    # Together the two read every record once; each only from its own partitions.
    got = {c: read(java, c, 10) for c in (first, second)}
    for c, records in got.items():
        assert {(topic, r["partition"]) for r in records} == held[c]
    assert values(got[first] + got[second]) == expected_values(4, 5, "a")
    for c in (first, second):
        java.call("consumer_commit", name=c)

    # The second leaves: the first takes all four partitions and reads what comes next from everywhere.
    java.call("consumer_close", name=second)
    wait_assignments(java, {first: 4})
    produce(java, broker, topic, 4, 2, "b")
    assert values(read(java, first, 8)) == expected_values(4, 2, "b")
    java.call("consumer_commit", name=first)
    committed = java.call("consumer_committed", name=first, partitions=[[topic, p] for p in range(4)])
    assert committed == {f"{topic}/{p}": 7 for p in range(4)}
    java.call("consumer_close", name=first)

    # A restarted member resumes at the committed offsets: it reads only the records produced after them.
    produce(java, broker, topic, 4, 1, "c")
    restarted = open_consumer(java, broker, names("m3"), subscribe=[topic], **config)
    try:
        resumed = read(java, restarted, 4)
        assert values(resumed) == expected_values(4, 1, "c")
        assert sorted(r["offset"] for r in resumed) == [7, 7, 7, 7]
        assert java.call("consumer_state", name=restarted)["buffered"] == 0
    finally:
        java.call("consumer_close", name=restarted)


def test_cooperative_sticky_moves_only_the_partitions_that_change_owner(java, broker, names):
    topic, group = names("coop"), names("coop-g")
    create_topic(java, topic, 4)
    config = {
        "group.id": group,
        "partition.assignment.strategy": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
    }
    first = open_consumer(java, broker, names("c1"), subscribe=[topic], **config)
    wait_assignments(java, {first: 4})
    events_before = len(java.call("consumer_state", name=first)["events"])
    second = open_consumer(java, broker, names("c2"), subscribe=[topic], **config)
    held = wait_assignments(java, {first: 2, second: 2})

    # Incremental rebalance: the first member gives up exactly the two partitions the second now owns, and is
    # never asked to revoke the two it keeps.
    new_events = java.call("consumer_state", name=first)["events"][events_before:]
    revoked = {(t, p) for e in new_events if e["type"] == "revoked" for t, p in e["partitions"]}
    assert revoked == held[second]
    assert not any(e["type"] == "lost" for e in new_events)

    # Records keep flowing to both; the second leaves and the first gets only its two partitions added.
    produce(java, broker, topic, 4, 3, "a")
    got = {c: read(java, c, 6) for c in (first, second)}
    assert values(got[first] + got[second]) == expected_values(4, 3, "a")
    java.call("consumer_commit", name=second)
    mark = len(java.call("consumer_state", name=first)["events"])
    java.call("consumer_close", name=second)
    wait_assignments(java, {first: 4})
    later = java.call("consumer_state", name=first)["events"][mark:]
    assert not any(e["type"] in ("revoked", "lost") and e["partitions"] for e in later)
    added = {(t, p) for e in later if e["type"] == "assigned" for t, p in e["partitions"]}
    assert added == held[second]
    # The first resumes the second's partitions at the second's commits: nothing is read twice.
    produce(java, broker, topic, 4, 1, "b")
    assert values(read(java, first, 4)) == expected_values(4, 1, "b")
    java.call("consumer_close", name=first)


def test_static_members_leave_and_rejoin_without_a_rebalance(java, broker, names):
    topic, group = names("static"), names("static-g")
    create_topic(java, topic, 4)
    base = {"group.id": group, "session.timeout.ms": "30000"}
    a = open_consumer(
        java, broker, names("sa"), subscribe=[topic], **base, **{"group.instance.id": "instance-a"}
    )
    b_name = names("sb")
    b = open_consumer(java, broker, b_name, subscribe=[topic], **base, **{"group.instance.id": "instance-b"})
    held = wait_assignments(java, {a: 2, b: 2})
    produce(java, broker, topic, 4, 3, "a")
    assert values(read(java, a, 6) + read(java, b, 6)) == expected_values(4, 3, "a")
    java.call("consumer_commit", name=b)
    state_a = java.call("consumer_state", name=a)

    described = java.admin("describe_consumer_groups", ids=[group])[group]
    assert described["error"] is None
    assert sorted(m["instance_id"] for m in described["members"]) == ["instance-a", "instance-b"]

    # A static member that closes sends no LeaveGroup: it stays in the group, and nothing moves, until its
    # session times out.
    java.call("consumer_close", name=b)
    away = java.admin("describe_consumer_groups", ids=[group])[group]
    assert away["state"] == "Stable"
    assert sorted(m["instance_id"] for m in away["members"]) == ["instance-a", "instance-b"]
    b2 = open_consumer(
        java, broker, names("sb2"), subscribe=[topic], **base, **{"group.instance.id": "instance-b"}
    )
    wait_assignments(java, {a: 2, b2: 2})
    # Rejoining under the same group.instance.id gives the same partitions back, and the other member saw no
    # rebalance at all (same generation, no new callbacks).
    assert assignment(java, b2) == held[b]
    after = java.call("consumer_state", name=a)
    assert after["generation"] == state_a["generation"]
    assert after["events"] == state_a["events"]
    # The returning member resumes at its commits.
    produce(java, broker, topic, 4, 1, "b")
    resumed = read(java, b2, 2)
    assert sorted(r["offset"] for r in resumed) == [3, 3]
    assert {(topic, r["partition"]) for r in resumed} == held[b]

    # A second consumer with a live member's group.instance.id takes its place; the old one is fenced
    # (FencedInstanceIdException from poll), and the other member still sees no rebalance.
    b3 = open_consumer(
        java, broker, names("sb3"), subscribe=[topic], **base, **{"group.instance.id": "instance-b"}
    )
    wait_until(lambda: assignment(java, b3) == held[b], timeout_s=60)

    def fenced() -> bool:
        errors = java.call("consumer_state", name=b2)["errors"]
        return any(e["type"] == "FencedInstanceIdException" for e in errors)

    wait_until(fenced, timeout_s=60)
    assert java.call("consumer_state", name=a)["generation"] == state_a["generation"]
    for c in (a, b2, b3):
        java.call("consumer_close", name=c)


def test_offsets_for_times_and_seek(java, broker, names):
    topic = names("times")
    create_topic(java, topic, 2)
    base_ms = 1_700_000_000_000
    records = [
        {"partition": 0, "key": f"k{i}", "value": f"v{i}", "timestamp": base_ms + 1000 * i} for i in range(10)
    ]
    java.call("produce", config={"bootstrap.servers": broker.bootstrap}, topic=topic, records=records)
    # fetch limits of one byte: the broker still answers with the first batch (KIP-74), so reading goes on
    tiny = {"fetch.max.bytes": "1", "max.partition.fetch.bytes": "1"}
    reader = open_consumer(java, broker, names("seeker"), assign=[[topic, 0], [topic, 1]], **tiny)
    try:
        read(java, reader, 10)
        found = java.call(
            "consumer_offsets_for_times",
            name=reader,
            times=[[topic, 0, base_ms + 2500], [topic, 1, base_ms], [topic, 0, base_ms + 60_000]][:2],
            seek=True,
        )
        assert found[f"{topic}/0"]["offset"] == 3
        assert found[f"{topic}/0"]["timestamp"] == base_ms + 3000
        assert found[f"{topic}/1"] is None  # an empty partition has no record at or after the timestamp
        again = read(java, reader, 7)
        assert [(r["offset"], r["value"], r["timestamp"]) for r in again] == [
            (i, f"v{i}", base_ms + 1000 * i) for i in range(3, 10)
        ]
        # Past the last timestamp: no offset (null), and the admin client agrees.
        late = java.call("consumer_offsets_for_times", name=reader, times=[[topic, 0, base_ms + 60_000]])
        assert late == {f"{topic}/0": None}
        java.call("consumer_seek", name=reader, partition=[topic, 0], offset=8)
        assert [r["offset"] for r in read(java, reader, 2)] == [8, 9]
    finally:
        java.call("consumer_close", name=reader)
