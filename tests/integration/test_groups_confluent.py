"""Consumer groups with confluent-kafka (librdkafka): assignment, rebalances, failures, committed offsets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from confluent_kafka import TopicPartition

from brook.testing import BrookProcess
from tests.integration.group_helpers import Tracker, consumer, create_topics, partitions_of, produce
from tests.integration.helpers import wait_until


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("brook")) as b:
        yield b


def all_assigned(consumers, topic_partitions: int, per_consumer: int | None = None) -> bool:
    sets = [partitions_of(c) for c in consumers]
    union = set().union(*sets)
    if len(union) != topic_partitions or sum(len(s) for s in sets) != topic_partitions:
        return False
    return per_consumer is None or all(len(s) == per_consumer for s in sets)


def test_three_consumers_share_six_partitions_then_one_leaves(broker):
    create_topics(broker.bootstrap, 6, "three")
    members = [consumer(broker.bootstrap, "three-g") for _ in range(3)]
    for c in members:
        c.subscribe(["three"])
    tracker = Tracker(members)
    tracker.poll_until(lambda: all_assigned(members, 6, per_consumer=2))

    first = produce(broker.bootstrap, "three", 6, 10, tag="a")
    tracker.poll_until(lambda: len(tracker.values()) >= 60)
    assert sorted(tracker.values()) == sorted(first)  # every record exactly once
    for c in members:
        mine = partitions_of(c)
        assert {(m.topic(), m.partition()) for m in tracker.received[id(c)]} <= mine

    # One member leaves (LeaveGroup): the other two take its partitions in the next rebalance.
    leaving = members.pop()
    leaving.close()
    tracker.consumers = members
    tracker.poll_until(lambda: all_assigned(members, 6, per_consumer=3), timeout_s=20)
    second = produce(broker.bootstrap, "three", 6, 10, tag="b")
    tracker.poll_until(lambda: len(tracker.values()) >= 120)
    time.sleep(0.5)
    tracker.poll_once()
    counts = Counter(tracker.values())
    assert set(counts) == first | second
    assert max(counts.values()) == 1, "a record was delivered twice"
    for c in members:
        c.close()


_KILLABLE = textwrap.dedent(
    """
    import sys
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 300, "auto.offset.reset": "earliest"})
    def on_assign(consumer, partitions):
        print("ASSIGNED", len(partitions), flush=True)
    c.subscribe([sys.argv[3]], on_assign=on_assign)
    while True:
        c.poll(0.1)
    """
)


def test_killed_member_loses_partitions_after_session_timeout(broker):
    create_topics(broker.bootstrap, 6, "killed")
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, broker.bootstrap, "killed-g", "killed"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("ASSIGNED"), line
        survivor = consumer(broker.bootstrap, "killed-g")
        survivor.subscribe(["killed"])
        tracker = Tracker([survivor])
        tracker.poll_until(lambda: len(partitions_of(survivor)) == 3, timeout_s=20)
        child.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        tracker.poll_until(lambda: len(partitions_of(survivor)) == 6, timeout_s=20)
        moved_after = time.monotonic() - killed_at
        assert 4.0 <= moved_after <= 15.0, moved_after  # after the 6 s session timeout, not before
        values = produce(broker.bootstrap, "killed", 6, 5)
        tracker.poll_until(lambda: set(tracker.values()) >= values)
        survivor.close()
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_new_consumer_resumes_after_last_committed_offsets(broker):
    create_topics(broker.bootstrap, 3, "resume")
    first = produce(broker.bootstrap, "resume", 3, 10, tag="a")
    c = consumer(broker.bootstrap, "resume-g", **{"enable.auto.commit": False})
    c.subscribe(["resume"])
    tracker = Tracker([c])
    tracker.poll_until(lambda: len(tracker.values()) >= 30)
    assert set(tracker.values()) == first
    committed = c.commit(asynchronous=False)
    assert sorted((tp.partition, tp.offset) for tp in committed) == [(0, 10), (1, 10), (2, 10)]
    c.close()

    second = produce(broker.bootstrap, "resume", 3, 5, tag="b")
    again = consumer(broker.bootstrap, "resume-g")
    again.subscribe(["resume"])
    tracker = Tracker([again])
    tracker.poll_until(lambda: len(tracker.values()) >= 15)
    time.sleep(0.3)
    tracker.poll_once()
    assert sorted(tracker.values()) == sorted(second)
    stored = again.committed([TopicPartition("resume", p) for p in range(3)], timeout=10)
    assert all(tp.error is None for tp in stored)
    again.close()


def test_commit_metadata_is_kept(broker):
    create_topics(broker.bootstrap, 1, "meta")
    c = consumer(broker.bootstrap, "meta-g", **{"enable.auto.commit": False})
    c.assign([TopicPartition("meta", 0, 0)])  # no group membership: a "simple" commit
    c.commit(offsets=[TopicPartition("meta", 0, 7, metadata="checkpoint-7")], asynchronous=False)
    [tp] = c.committed([TopicPartition("meta", 0)], timeout=10)
    assert (tp.offset, tp.metadata) == (7, "checkpoint-7")
    c.close()


def test_subscription_to_topic_list_and_regex(broker):
    create_topics(broker.bootstrap, 2, "multi-a", "multi-b", "other-c")
    by_list = consumer(broker.bootstrap, "multi-list")
    by_list.subscribe(["multi-a", "multi-b"])
    by_regex = consumer(broker.bootstrap, "multi-regex")
    by_regex.subscribe(["^multi-.*"])
    tracker = Tracker([by_list, by_regex])
    expected = {(t, p) for t in ("multi-a", "multi-b") for p in range(2)}
    tracker.poll_until(lambda: partitions_of(by_list) == expected and partitions_of(by_regex) == expected)
    values = produce(broker.bootstrap, "multi-a", 2, 3) | produce(broker.bootstrap, "multi-b", 2, 3)
    tracker.poll_until(
        lambda: set(tracker.values(by_list)) >= values and set(tracker.values(by_regex)) >= values
    )
    by_list.close()
    by_regex.close()


def test_cooperative_sticky_rebalance(broker):
    create_topics(broker.bootstrap, 4, "coop")
    config = {"partition.assignment.strategy": "cooperative-sticky"}
    a = consumer(broker.bootstrap, "coop-g", **config)
    a.subscribe(["coop"])
    tracker = Tracker([a])
    tracker.poll_until(lambda: len(partitions_of(a)) == 4)
    b = consumer(broker.bootstrap, "coop-g", **config)
    b.subscribe(["coop"])
    tracker.consumers.append(b)
    tracker.received[id(b)] = []
    tracker.poll_until(lambda: all_assigned([a, b], 4, per_consumer=2), timeout_s=30)
    values = produce(broker.bootstrap, "coop", 4, 5)
    tracker.poll_until(lambda: set(tracker.values()) >= values)
    assert max(Counter(tracker.values()).values()) == 1
    a.close()
    b.close()


def test_static_member_restart_causes_no_rebalance(broker):
    create_topics(broker.bootstrap, 4, "static")
    config = {"group.instance.id": "instance-a", "session.timeout.ms": 10000}
    a = consumer(broker.bootstrap, "static-g", **config)
    b = consumer(
        broker.bootstrap, "static-g", **{"group.instance.id": "instance-b", "session.timeout.ms": 10000}
    )
    a.subscribe(["static"])
    b.subscribe(["static"])
    tracker = Tracker([a, b])
    tracker.poll_until(lambda: all_assigned([a, b], 4, per_consumer=2))
    before = partitions_of(a)
    rebalances = rebalance_count(broker, "static-g")
    a.close()  # a static member's close sends no LeaveGroup: the group keeps its place
    restarted = consumer(broker.bootstrap, "static-g", **config)
    restarted.subscribe(["static"])
    tracker = Tracker([restarted, b])
    tracker.poll_until(lambda: partitions_of(restarted) == before, timeout_s=20)
    tracker.poll_until(lambda: partitions_of(b) and len(partitions_of(b)) == 2)
    assert rebalance_count(broker, "static-g") == rebalances
    assert "static member rejoined group=static-g instance=instance-a" in broker.log_text()
    restarted.close()
    b.close()


def rebalance_count(broker, group: str) -> int:
    return broker.log_text().count(f"preparing rebalance group={group} ")


@pytest.mark.parametrize("crash", [False, True], ids=["sigterm", "sigkill"])
def test_committed_offsets_survive_broker_restart(tmp_path, crash):
    with BrookProcess(data_dir=tmp_path / "data") as b:
        create_topics(b.bootstrap, 2, "durable")
        produce(b.bootstrap, "durable", 2, 10)
        c = consumer(b.bootstrap, "durable-g", **{"enable.auto.commit": False})
        c.subscribe(["durable"])
        tracker = Tracker([c])
        tracker.poll_until(lambda: len(tracker.values()) >= 20)
        c.commit(
            offsets=[TopicPartition("durable", 0, 4, metadata="m0"), TopicPartition("durable", 1, 9)],
            asynchronous=False,
        )
        c.close()
        b.restart(crash=crash)
        fresh = consumer(b.bootstrap, "durable-g")
        committed = wait_until(
            lambda: _committed_or_none(fresh, [TopicPartition("durable", p) for p in range(2)]), timeout_s=20
        )
        assert [(tp.offset, tp.metadata) for tp in committed] == [(4, "m0"), (9, None)]
        fresh.subscribe(["durable"])
        tracker = Tracker([fresh])
        tracker.poll_until(lambda: len(tracker.values()) >= 7)
        assert sorted(tracker.values()) == sorted(
            [f"durable/0/{i}".encode() for i in range(4, 10)] + [b"durable/1/9"]
        )
        fresh.close()


def _committed_or_none(c, partitions):
    try:
        return c.committed(partitions, timeout=5)
    except Exception:  # noqa: BLE001 - still loading or reconnecting: try again
        return None
