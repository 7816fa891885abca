"""Group coordinator failover on three brooks and a real ZooKeeper: committed offsets never go backwards.

A member of a group commits every 100 ms (increasing offsets on 6 partitions) with confluent-kafka while
a prober asks every reachable broker directly (OffsetFetch) for the group's offsets. Any broker that
answers without an error claims to coordinate the group, so its answer must be at least every commit
acknowledged before the question was sent: a stale or not-yet-loaded coordinator must refuse instead.

Broker 0 coordinates the group (its id is chosen so) and has a short ZooKeeper session, so that killing
or freezing it moves the group quickly; brokers 1 and 2 have long sessions, so that a replica paused
for a few seconds stays registered and in the ISR, as a slow follower does.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.exceptions import NoNodeError
from kio.schema.offset_fetch.v7.response import OffsetFetchResponse
from kio.serial import entity_reader

from brook.coordinator import partition_for
from brook.testing import BrookProcess
from tests.cluster.brokers import brook_on
from tests.cluster.test_replication import state_of
from tests.integration.helpers import wait_until
from tests.integration.raw_client import RawClient

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

TOPIC = "events"
PARTITIONS = 6
OFFSETS_PARTITIONS = 3
COORDINATOR = 0
SHORT_SESSION_MS = 4000
COORDINATOR_NOT_AVAILABLE = 15
LONG_SESSION_MS = 30000


def cluster_broker(zookeeper: str, data_dir: Path, node_id: int, **overrides: str) -> BrookProcess:
    # The setup, with shorter timeouts: RF 3 everywhere, min.insync.replicas 2 (also for the
    # offsets topic, through the broker default, as in Kafka).
    session_ms = SHORT_SESSION_MS if node_id == COORDINATOR else LONG_SESSION_MS
    return brook_on(
        zookeeper,
        data_dir,
        node_id,
        **{
            "zookeeper.session.timeout.ms": str(session_ms),
            "replica.lag.time.max.ms": "2000",
            "min.insync.replicas": "2",
            "offsets.topic.replication.factor": "3",
            "offsets.topic.num.partitions": str(OFFSETS_PARTITIONS),
            **overrides,
        },
    )


def pause(broker: BrookProcess) -> None:
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP)


def resume(broker: BrookProcess) -> None:
    if broker.process is not None and broker.process.poll() is None:
        os.kill(broker.process.pid, signal.SIGCONT)


def offset_fetch_body(group: str) -> dict[str, Any]:
    return {
        "group_id": group,
        "topics": [{"name": TOPIC, "partition_indexes": list(range(PARTITIONS))}],
        "require_stable": False,
    }


def read_offset_fetch_response(client: RawClient, correlation_id: int) -> Any:
    response = client.read_frame()
    assert int.from_bytes(response[:4], "big") == correlation_id
    entity, _ = entity_reader(OffsetFetchResponse)(response, 5)  # v7: header v1, one empty tag byte
    return entity


def below(answer: Any, acknowledged: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Partitions whose answered offset is below an acknowledged commit: (answered, acknowledged)."""
    got = {p.partition_index: p.committed_offset for t in answer.topics for p in t.partitions}
    return {p: (got.get(p, -1), acked) for p, acked in acknowledged.items() if got.get(p, -1) < acked}


class Committer(threading.Thread):
    """A subscribed group member committing offsets 1001, 1002, ... on every partition every 100 ms."""

    def __init__(self, bootstrap: str, group: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.group = group
        self.lock = threading.Lock()
        self.acked: dict[int, int] = {}  # partition -> highest acknowledged commit
        self.acks = 0
        self.done = threading.Event()

    def snapshot(self) -> dict[int, int]:
        with self.lock:
            return dict(self.acked)

    def count(self) -> int:
        with self.lock:
            return self.acks

    def run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.group,
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
                "socket.timeout.ms": 3000,
            }
        )
        consumer.subscribe([TOPIC])
        value = 1000
        next_commit = 0.0
        try:
            while not self.done.is_set():
                consumer.poll(0.02)
                if time.monotonic() < next_commit:
                    continue
                next_commit = time.monotonic() + 0.1
                value += 1
                offsets = [TopicPartition(TOPIC, p, value) for p in range(PARTITIONS)]
                try:
                    result = consumer.commit(offsets=offsets, asynchronous=False)
                except KafkaException:
                    continue  # not acknowledged
                with self.lock:
                    for tp in result or []:
                        if tp.error is None:
                            self.acked[tp.partition] = max(self.acked.get(tp.partition, -1), tp.offset)
                    if result and all(tp.error is None for tp in result):
                        self.acks += 1
        finally:
            consumer.close()


class Prober(threading.Thread):
    """Asks each reachable broker for the group's offsets; records every answer below an ack."""

    def __init__(self, brokers: list[BrookProcess], committer: Committer) -> None:
        super().__init__(daemon=True)
        self.brokers = brokers
        self.committer = committer
        self.reachable = set(range(len(brokers)))
        self.answered: dict[int, int] = {}
        self.violations: list[tuple[int, dict[int, tuple[int, int]]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        body = offset_fetch_body(self.committer.group)
        while not self.done.is_set():
            for index in sorted(self.reachable):
                acknowledged = self.committer.snapshot()  # before the question is sent
                try:
                    client = RawClient(self.brokers[index].bootstrap, timeout_s=2.0)
                    try:
                        answer = client.request(9, 7, body)
                    finally:
                        client.close()
                except (OSError, AssertionError):
                    continue
                if answer.error_code != 0:
                    continue  # NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...: not serving
                self.answered[index] = self.answered.get(index, 0) + 1
                if regressed := below(answer, acknowledged):
                    self.violations.append((index, regressed))
            self.done.wait(0.1)


def committed_offsets(bootstrap: str, group: str) -> dict[int, int] | None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "socket.timeout.ms": 3000})
    try:
        found = consumer.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
    except KafkaException:
        return None
    finally:
        consumer.close()
    if any(tp.error is not None for tp in found):
        return None
    return {tp.partition: tp.offset for tp in found}


class Cluster:
    def __init__(
        self, zookeeper: str, zk: Any, tmp_path: Path, overrides: dict[str, str] | None = None
    ) -> None:
        self.zk = zk
        self.brokers = [
            cluster_broker(zookeeper, tmp_path / f"b{i}", i, **(overrides or {})) for i in range(3)
        ]

    def __enter__(self) -> Cluster:
        for b in self.brokers:
            b.start()
        wait_until(lambda: len(self.zk.get_children("/brokers/ids")) == 3, timeout_s=30)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)])[TOPIC].result(30)
        self.group = wait_until(self._group_coordinated_by_broker_0, timeout_s=60, interval_s=0.5)
        self.committer = Committer(self.bootstrap, self.group)
        self.prober = Prober(self.brokers, self.committer)
        self.committer.start()
        self.prober.start()
        wait_until(lambda: self.committer.count() >= 10, timeout_s=90)  # the member joined and commits
        return self

    def _group_coordinated_by_broker_0(self) -> str | None:
        """Creates `__consumer_offsets` (FindCoordinator), then picks a group id whose partition broker 0 leads."""
        client = RawClient(self.brokers[0].bootstrap)
        try:
            client.request(10, 3, {"key": "warm-up", "key_type": 0})
        finally:
            client.close()
        for i in range(1000):
            group = f"committing-group-{i}"
            try:
                if self.offsets_state(group)["leader"] == COORDINATOR:
                    return group
            except NoNodeError:  # the topic's znodes are not there yet
                return None
        return None

    def offsets_state(self, group: str | None = None) -> dict:
        return state_of(self.zk, "__consumer_offsets", partition_for(group or self.group, OFFSETS_PARTITIONS))

    def offsets_replicas(self) -> list[int]:
        doc = json.loads(self.zk.get("/brokers/topics/__consumer_offsets")[0])
        return list(doc["partitions"][str(partition_for(self.group, OFFSETS_PARTITIONS))])

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    def wait_for_commits(self, more: int, timeout_s: float = 90) -> None:
        target = self.committer.count() + more
        wait_until(lambda: self.committer.count() >= target, timeout_s=timeout_s)

    def finish(self) -> None:
        """Stop committing; the group's offsets, read back, are at least every acknowledged commit."""
        self.committer.done.set()
        self.committer.join(30)
        self.prober.done.set()
        self.prober.join(30)
        acked = self.committer.snapshot()
        assert sorted(acked) == list(range(PARTITIONS))
        live = ",".join(b.bootstrap for i, b in enumerate(self.brokers) if i in self.prober.reachable)
        final = wait_until(lambda: committed_offsets(live, self.group), timeout_s=60)
        assert {p: final[p] >= acked[p] for p in acked} == dict.fromkeys(acked, True), (final, acked)
        assert self.prober.violations == []

    def __exit__(self, *exc: object) -> None:
        self.committer.done.set()
        self.prober.done.set()
        for b in self.brokers:
            resume(b)
        for b in self.brokers:
            b.stop()


def test_killing_the_group_coordinator_with_a_paused_replica_never_takes_a_commit_back(
    zookeeper, zk, tmp_path
):
    """Scenario (e): the group commits every 100 ms; the coordinator is killed while the third replica of its
    offsets partition is paused; no committed offset is ever read back below an acknowledged commit."""
    # The paused replica stays in the ISR (replica.lag.time.max.ms 10 s, long session): the new leader's
    # high watermark cannot move, and the last acknowledged commits lie above it in its log.
    with Cluster(zookeeper, zk, tmp_path, {"replica.lag.time.max.ms": "10000"}) as cluster:
        # The controller elects the first live ISR member in replica order: `other`, not the paused one.
        coordinator, other, third = cluster.offsets_replicas()
        assert coordinator == COORDINATOR
        cluster.wait_for_commits(10)
        cluster.prober.reachable -= {third, COORDINATOR}
        pause(cluster.brokers[third])
        cluster.brokers[COORDINATOR].kill()
        wait_until(lambda: cluster.offsets_state()["leader"] == other, timeout_s=30)
        assert third in cluster.offsets_state()["isr"]
        answered = cluster.prober.answered.get(other, 0)
        wait_until(lambda: cluster.prober.answered.get(other, 0) >= answered + 5, timeout_s=30)
        resume(cluster.brokers[third])
        cluster.prober.reachable.add(third)
        cluster.wait_for_commits(20)  # the group resumes on the new coordinator
        cluster.finish()


def test_a_frozen_coordinator_that_resumes_answers_no_stale_offsets(zookeeper, zk, tmp_path):
    with Cluster(zookeeper, zk, tmp_path) as cluster:
        old = cluster.brokers[COORDINATOR]
        cluster.prober.reachable.discard(COORDINATOR)
        pause(old)  # past its session timeout: ZooKeeper expires it, the controller moves the partition
        wait_until(lambda: cluster.offsets_state()["leader"] not in (COORDINATOR, -1), timeout_s=30)
        cluster.wait_for_commits(20)  # committing on the new coordinator, past the old one's cache
        # An OffsetFetch waits in the frozen broker's socket: the first thing it handles when it resumes,
        # before anything told it that it lost the partition.
        early = RawClient(old.bootstrap, timeout_s=20.0)
        correlation_id, frame = early.frame(9, 7, offset_fetch_body(cluster.group))
        early.send_raw(frame)
        acknowledged = cluster.committer.snapshot()
        resume(old)
        cluster.prober.reachable.add(COORDINATOR)
        answer = read_offset_fetch_response(early, correlation_id)
        early.close()
        assert answer.error_code != 0 or below(answer, acknowledged) == {}
        cluster.wait_for_commits(30)
        cluster.finish()


def test_offsets_topic_waits_until_its_replication_factor_of_brokers_is_up(zookeeper, zk, tmp_path):
    brokers = [cluster_broker(zookeeper, tmp_path / f"b{i}", i) for i in range(3)]
    for b in brokers[:2]:
        b.start()
    client = None
    try:
        wait_until(lambda: len(zk.get_children("/brokers/ids")) == 2, timeout_s=30)
        client = RawClient(brokers[0].bootstrap)
        find = {"key": "early-group", "key_type": 0}
        assert client.request(10, 3, find).error_code == COORDINATOR_NOT_AVAILABLE
        assert not zk.exists("/brokers/topics/__consumer_offsets")  # never created under-replicated

        brokers[2].start()
        found = wait_until(lambda: (r := client.request(10, 3, find)).error_code == 0 and r, timeout_s=30)
        assert found.node_id in (0, 1, 2)
        doc = json.loads(zk.get("/brokers/topics/__consumer_offsets")[0])
        assert sorted(len(replicas) for replicas in doc["partitions"].values()) == [3] * OFFSETS_PARTITIONS
    finally:
        if client is not None:
            client.close()
        for b in brokers:
            b.stop()
