"""Fault scenarios of issue 10, as plain functions over a BrookCluster, run by test_fault_scenarios.py (which
lists where every scenario (a)-(i) is tested). Each asserts outcomes: acknowledged records at their offsets,
nothing read that a failover takes back, committed offsets that never go backwards, no broker exit."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brook.coordinator.offsets_topic import partition_for
from brook.testing import BrookCluster, CommitAck, CommitRead, check
from tests.chaos.workload import ProducerLoad, read_back
from tests.cluster.cluster_faults import (
    QUIET,
    cluster_on,
    create_topic,
    log_bytes,
    new_producer,
    produce,
    read_partition,
)


def values(prefix: str, count: int) -> list[bytes]:
    return [b"%s:%d" % (prefix.encode(), i) for i in range(count)]


def new_leader(
    cluster: BrookCluster, topic: str, old: dict[str, Any], timeout_s: float = 30.0
) -> dict[str, Any]:
    """Wait for a leader other than old's, in a later epoch; returns the new state."""
    return cluster.wait_until(
        lambda: (
            (s := cluster.partition_state(topic, 0))
            and s["leader"] not in (-1, old["leader"])
            and s["leader_epoch"] > old["leader_epoch"]
            and s
        ),
        timeout_s,
        f"{topic}: a new leader after {old['leader']}",
    )


def full_isr(cluster: BrookCluster, topic: str, timeout_s: float = 45.0) -> dict[str, Any]:
    return cluster.wait_until(
        lambda: (s := cluster.partition_state(topic, 0)) and sorted(s["isr"]) == [0, 1, 2] and s,
        timeout_s,
        f"{topic}: all three replicas in the ISR",
    )


def start_after_session(cluster: BrookCluster, node_id: int) -> None:
    """Start a stopped broker once its previous ZooKeeper registration is gone (scenario (i) covers the
    restart before that)."""
    cluster.wait_until(
        lambda: node_id not in cluster.registered_brokers(), 30, f"broker {node_id} deregistered"
    )
    cluster.start_broker(node_id)


def assert_acked_in_place(log: list[tuple[int, bytes]], acked: list[tuple[int, bytes]]) -> None:
    at = dict(log)
    misplaced = [(offset, value, at.get(offset)) for offset, value in acked if at.get(offset) != value]
    assert not misplaced, f"{len(misplaced)} acknowledged records not at their offsets, e.g. {misplaced[:3]}"
    seen = [value for _, value in log]
    assert len(seen) == len(set(seen)), "a value appears twice"


def assert_identical_logs(cluster: BrookCluster, topic: str) -> None:
    cluster.wait_until(
        lambda: len({log_bytes(cluster, n, topic) for n in range(3)}) == 1,
        30,
        f"{topic}: replicas byte-identical",
    )


# ---- (g) ---------------------------------------------------------------------------------------------


def topic_led_by_controller(cluster: BrookCluster, prefix: str) -> tuple[str, dict[str, Any]]:
    """Create one-partition topics until one is led by the controller (the broker picks leaders)."""
    for attempt in range(12):
        name = f"{prefix}{attempt}"
        state = create_topic(cluster, name)
        if state["leader"] == cluster.controller():
            return name, state
    raise AssertionError("no topic led by the controller in 12 attempts")


def kill_controller_and_leader(zookeeper: str | None, tmp_path: Path) -> None:
    with cluster_on(zookeeper, tmp_path) as cluster:
        topic, old = topic_led_by_controller(cluster, "g")
        victim = old["leader"]
        first = produce(cluster, topic, values("a", 200))
        cluster.kill(victim)
        new = new_leader(cluster, topic, old)
        assert new["leader_epoch"] == old["leader_epoch"] + 1
        assert victim not in new["isr"]
        cluster.wait_until(lambda: cluster.controller() not in (None, victim), 30, "a new controller")
        second = produce(cluster, topic, values("b", 100))
        acked = first + second
        assert [offset for offset, _ in acked] == list(range(300))
        assert read_partition(cluster.bootstrap, topic) == acked
        start_after_session(cluster, victim)
        full_isr(cluster, topic)
        assert_identical_logs(cluster, topic)
        assert not cluster.unexpected_exits


# ---- (b) ---------------------------------------------------------------------------------------------


def three_leaders_with_a_paused_replica(zookeeper: str | None, tmp_path: Path) -> None:
    with cluster_on(zookeeper, tmp_path) as cluster:
        state = create_topic(cluster, "b")
        first = state["leader"]
        paused = next(n for n in range(3) if n != first)
        other = 3 - first - paused
        cluster.pause(paused)
        cluster.wait_until(
            lambda: paused not in cluster.partition_state("b", 0)["isr"], 30, "paused replica out"
        )
        acked = produce(cluster, "b", values("e0", 50))
        leaders = [first]
        for round_ in range(1, 4):  # first -> other -> first -> other
            victim = state["leader"]
            cluster.kill(victim)
            state = new_leader(cluster, "b", state)
            leaders.append(state["leader"])
            start_after_session(cluster, victim)  # min.insync.replicas=2: acks=all needs it back
            cluster.wait_until(
                lambda v=victim: v in cluster.partition_state("b", 0)["isr"], 45, "back in ISR"
            )
            acked += produce(cluster, "b", values(f"e{round_}", 50))
        assert leaders == [first, other, first, other]
        cluster.resume(paused)
        full_isr(cluster, "b")
        assert_identical_logs(cluster, "b")
        assert read_partition(cluster.bootstrap, "b") == acked
        assert not cluster.unexpected_exits


# ---- (d) ---------------------------------------------------------------------------------------------


def zookeeper_cut_and_restart_under_load(_zookeeper: str | None, tmp_path: Path) -> None:
    """Needs a ZooKeeper of its own (it restarts it): ignores the shared one."""
    with cluster_on(None, tmp_path) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
        admin.create_topics([NewTopic("d", 3, 3, config={"min.insync.replicas": "2"})])["d"].result(30)
        cluster.wait_until(
            lambda: all(len(cluster.partition_state("d", p)["isr"]) == 3 for p in range(3)), 30, "ISRs"
        )
        load = ProducerLoad("d0", cluster.bootstrap, "d", rate_per_s=100)
        load.start()
        started = time.monotonic()
        cluster.wait_until(lambda: len(load.acks) > 50, 30, "acks flowing")
        victim = cluster.leader("d", 0)
        assert victim is not None
        cluster.partition(victim, from_=["zookeeper"])
        cluster.wait_until(lambda: victim not in cluster.registered_brokers(), 30, "session expired")
        cluster.wait_until(lambda: cluster.leader("d", 0) not in (None, victim), 30, "partition 0 moved")
        time.sleep(2)  # keep producing while the broker is cut off
        cluster.heal()
        cluster.wait_until(lambda: victim in cluster.registered_brokers(), 30, "broker re-registered")
        before_restart = len(load.acks)
        cluster.restart_zookeeper()
        cluster.wait_until(
            lambda: len(load.acks) > before_restart + 200, 60, "acks after the ZooKeeper restart"
        )
        cluster.wait_until(
            lambda: all(len(cluster.partition_state("d", p)["isr"]) == 3 for p in range(3)), 45, "ISRs"
        )
        assert load.stop(30) == 0
        report = check(load.acks, read_back(cluster.bootstrap, "d"), window=(started, time.monotonic()))
        assert report.anomalies == 0, report.summary() + str(report.examples)
        assert not load.fatal
        assert cluster.registered_brokers() == [0, 1, 2]
        assert not cluster.unexpected_exits


# ---- (e) ---------------------------------------------------------------------------------------------


class CommittingMember(threading.Thread):
    """One group member on topic partition 0 that commits its position synchronously every 100 ms."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        super().__init__(daemon=True)
        self.commits: list[CommitAck] = []
        self.first_offsets: list[
            tuple[float, int]
        ] = []  # (time, offset) of the first record after each assign
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self._topic = topic
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                **QUIET,
            }
        )
        self._fresh = True

    def _on_assign(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._fresh = True

    def run(self) -> None:
        self._consumer.subscribe([self._topic], on_assign=self._on_assign)
        position = None
        last_commit = time.monotonic()
        while not self.stopping.is_set():
            msg = self._consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                if self._fresh:
                    self.first_offsets.append((time.monotonic(), msg.offset()))
                    self._fresh = False
                position = msg.offset() + 1
                time.sleep(0.002)  # a slow consumer: the committed position keeps moving during the faults
            if position is not None and time.monotonic() - last_commit >= 0.1:
                last_commit = time.monotonic()
                try:
                    [tp] = self._consumer.commit(
                        offsets=[TopicPartition(self._topic, 0, position)], asynchronous=False
                    )
                    if tp.error is None:
                        self.commits.append(CommitAck(self._topic, 0, position, time.monotonic()))
                except Exception as exc:  # noqa: BLE001 - commits fail during the failover: count and go on
                    self.errors.append(str(exc))
        self._consumer.close()


def coordinator_killed_while_committing(zookeeper: str | None, tmp_path: Path) -> None:
    group = "committers"
    with cluster_on(zookeeper, tmp_path) as cluster:
        create_topic(cluster, "e")
        produce(cluster, "e", values("a", 5000))
        member = CommittingMember(cluster.bootstrap, "e", group)
        member.start()
        offsets_partition = partition_for(group, 3)
        cluster.wait_until(lambda: len(member.commits) > 5, 30, "commits flowing")
        state = cluster.wait_until(
            lambda: cluster.partition_state("__consumer_offsets", offsets_partition), 10
        )
        coordinator = state["leader"]
        third = next(n for n in state["isr"] if n != coordinator)
        cluster.pause(third)
        cluster.wait_until(lambda: len(member.commits) > 20, 30, "commits with a replica paused")
        cluster.kill(coordinator)
        killed_at = time.monotonic()
        cluster.wait_until(
            lambda: any(c.time_s > killed_at + 1 for c in member.commits), 45, "commits after the kill"
        )
        cluster.resume(third)
        start_after_session(cluster, coordinator)
        time.sleep(1)
        member.stopping.set()
        member.join(30)
        reader = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, **QUIET})
        read_at = time.monotonic()
        [committed] = reader.committed([TopicPartition("e", 0)], timeout=30)
        reader.close()
        reads = [CommitRead("e", 0, committed.offset, read_at)]
        reads += [CommitRead("e", 0, offset, at) for at, offset in member.first_offsets]  # where it resumed
        report = check([], {}, member.commits, reads)
        assert report.commit_regressions == 0, report.examples
        assert committed.offset >= member.commits[-1].offset  # a commit that timed out may still have landed
        assert not cluster.unexpected_exits


# ---- (h) ---------------------------------------------------------------------------------------------


def full_restart_after_timed_out_acks_then_leader_kill(zookeeper: str | None, tmp_path: Path) -> None:
    with cluster_on(zookeeper, tmp_path) as cluster:
        state = create_topic(cluster, "h")
        acked = produce(cluster, "h", values("a", 100))
        followers = [n for n in range(3) if n != state["leader"]]
        for f in followers:
            cluster.pause(f)
        producer = new_producer(cluster, **{"message.timeout.ms": 2000, "request.timeout.ms": 1500})
        failed: list[KafkaError] = []
        for value in values("timed-out", 20):
            producer.produce("h", value, partition=0, on_delivery=lambda err, _m: failed.append(err))
        producer.flush(10)
        assert len(failed) == 20
        assert all(err is not None for err in failed)  # none acknowledged
        for n in range(3):
            cluster.kill(n)
        for n in range(3):
            start_after_session(cluster, n)
        full_isr(cluster, "h", timeout_s=60)
        seen = read_partition(cluster.bootstrap, "h")
        before = cluster.partition_state("h", 0)
        cluster.kill(before["leader"])
        new_leader(cluster, "h", before)
        after = read_partition(cluster.bootstrap, "h")
        assert after[: len(seen)] == seen  # nothing a consumer read was taken back
        assert_acked_in_place(after, acked)
        assert not cluster.unexpected_exits
