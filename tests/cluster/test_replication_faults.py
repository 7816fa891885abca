"""Replication under fast failures (issue 10's scenarios a, b, f, h): real brooks on a real ZooKeeper,
SIGKILL / SIGSTOP, an idempotent acks=all producer; every acknowledged record must stay exactly once at the
offset it was acknowledged with, and replicas end byte-identical."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from brook.common.clock import SystemClock
from brook.common.types import TopicPartition
from brook.storage.high_watermark_checkpoint import read_high_watermarks
from brook.storage.log import FileLog
from brook.testing import make_batch
from tests.cluster.faults import (
    AckedProducer,
    Cluster,
    assert_every_acked_record_once_in_place,
    batches_in,
    controller_of,
    end_offset_in,
    produce_acked,
    read_partition,
    retention_settled,
)
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

FAST = {
    "zookeeper.session.timeout.ms": "4000",
    "replica.lag.time.max.ms": "6000",
    "offsets.topic.replication.factor": "1",
    "replica.high.watermark.checkpoint.interval.ms": "500",
}


def test_old_leader_with_unreplicated_tail_rejoins_isr_only_after_truncating(zookeeper, zk, tmp_path):
    """(a) The leader holds an acks=1 tail nobody replicated; it is killed, restarted at once, and the
    new leader is killed as soon as the old one is back in the ISR. No acks=all record is lost."""
    cluster = Cluster(zookeeper, zk, tmp_path, 3, **FAST).start()
    try:
        old, first, second = cluster.create_topic("tail", 3, **{"min.insync.replicas": "2"})
        producer = AckedProducer(cluster.bootstrap(), "tail").start()
        producer.wait_acked(300)

        tail = Producer({"bootstrap.servers": cluster.bootstrap(old), "acks": 1, "linger.ms": 0})
        acked_tail: list = []
        tail.produce("tail", b"tail-warm", partition=0, on_delivery=lambda e, m: acked_tail.append(e))
        tail.flush(30)  # connected, metadata known: the pause below stays short
        cluster.pause(first, second)  # the followers stop fetching: what the leader appends stays its own
        for i in range(50):
            tail.produce("tail", b"tail-%03d" % i, partition=0, on_delivery=lambda e, m: acked_tail.append(e))
        tail.flush(10)
        assert acked_tail == [None] * 51  # acks=1: only the leader has the last 50
        epoch = cluster.state("tail")["leader_epoch"]
        cluster.brokers[old].kill()
        cluster.resume(first, second)

        new = cluster.wait_new_leader("tail", epoch)
        assert new["leader"] == first
        cluster.restart_when_deregistered(old)  # at once: as soon as ZooKeeper let its session go
        wait_until(lambda: old in cluster.state("tail")["isr"], timeout_s=60, interval_s=0.01)
        cluster.brokers[first].kill()  # the old leader is in the ISR again: it must hold every acked record
        newest = cluster.wait_new_leader("tail", new["leader_epoch"])
        assert newest["leader"] == old  # first in preference order among the live ISR
        acked_before = len(producer.acked)
        producer.wait_acked(acked_before + 200)

        cluster.restart_when_deregistered(first)
        producer.stop()
        wait_until(lambda: sorted(cluster.state("tail")["isr"]) == [0, 1, 2], timeout_s=60)
        cluster.wait_identical_logs("tail")
        log = read_partition(cluster.bootstrap(), "tail")
        assert_every_acked_record_once_in_place(producer.acked, log)
    finally:
        cluster.stop()


def test_three_leaders_in_a_row_and_a_paused_replica_rejoining_leave_identical_logs(zookeeper, zk, tmp_path):
    """(b) Leaders r0 -> r1 -> r0 over three epochs, each killed while producing and restarted at once;
    replica r2 is paused across the second change and rejoins. Every replica ends byte-identical and
    nothing acknowledged is lost."""
    cluster = Cluster(zookeeper, zk, tmp_path, 3, **{**FAST, "zookeeper.session.timeout.ms": "2000"}).start()
    try:
        r0, r1, r2 = cluster.create_topic("epochs", 3, **{"min.insync.replicas": "2"})
        # r2 is paused for several failovers: its session must outlive the pause (ZooKeeper's max is 10 s)
        cluster.reconfigure(r2, **{"zookeeper.session.timeout.ms": "10000"})
        wait_until(lambda: sorted(cluster.state("epochs")["isr"]) == [0, 1, 2], timeout_s=60)
        producer = AckedProducer(cluster.bootstrap(), "epochs").start()
        producer.wait_acked(200)

        epoch = cluster.state("epochs")["leader_epoch"]
        cluster.brokers[r0].kill()
        second = cluster.wait_new_leader("epochs", epoch)
        assert second["leader"] == r1
        cluster.restart_when_deregistered(r0)
        wait_until(lambda: r0 in cluster.state("epochs")["isr"], timeout_s=60, interval_s=0.01)
        count = len(producer.acked)
        producer.wait_acked(count + 50)
        # r2 is paused through a failover: as the controller it would stall that failover until its own session
        # expired (the pause would outlive it), so the controller moves (a new election) until another wins
        for _ in range(20):
            wait_until(lambda: controller_of(zk) is not None, timeout_s=30)
            if controller_of(zk) != r2:
                break
            zk.delete("/controller")  # every broker stands again; the first to create it wins
        assert controller_of(zk) not in (None, r2)
        cluster.pause(r2)  # misses the next epoch change
        paused_at = time.monotonic()
        cluster.brokers[r1].kill()
        third = cluster.wait_new_leader("epochs", second["leader_epoch"])
        assert third["leader"] == r0
        assert time.monotonic() - paused_at < 9, "the pause outlived r2's ZooKeeper session"
        cluster.resume(r2)
        cluster.restart_when_deregistered(r1)
        count = len(producer.acked)
        producer.wait_acked(count + 200)
        producer.stop()

        wait_until(lambda: sorted(cluster.state("epochs")["isr"]) == [0, 1, 2], timeout_s=60)
        assert cluster.state("epochs")["leader_epoch"] >= epoch + 2
        cluster.wait_identical_logs("epochs")
        assert_every_acked_record_once_in_place(producer.acked, read_partition(cluster.bootstrap(), "epochs"))
    finally:
        cluster.stop()


def test_follower_past_retention_restarts_at_the_leaders_log_start_and_rejoins(zookeeper, zk, tmp_path):
    """(f) While a follower is down, retention on the leader deletes everything it has. Back, it truncates
    fully, starts at the leader's log start offset, catches up and rejoins the ISR."""
    cluster = Cluster(
        zookeeper, zk, tmp_path, 2, **{**FAST, "log.retention.check.interval.ms": "200"}
    ).start()
    try:
        leader, follower = cluster.create_topic(
            "retained", 2, **{"segment.bytes": "4096", "retention.bytes": "16384", "min.insync.replicas": "1"}
        )
        before = produce_acked(
            cluster.bootstrap(), "retained", [b"a%05d" % i + b"." * 100 for i in range(100)]
        )
        assert len(before) == 100
        wait_until(lambda: end_offset_in(cluster.dirs[follower], "retained") == 100, timeout_s=30)
        follower_end = 100

        cluster.brokers[follower].stop()
        wait_until(lambda: cluster.state("retained")["isr"] == [leader], timeout_s=30)
        after = produce_acked(
            cluster.bootstrap(leader),
            "retained",
            [b"b%05d" % i + b"." * 100 for i in range(1500)],
            **{"batch.size": 2048},
        )
        assert len(after) == 1500
        wait_until(lambda: min(batches_in(cluster.dirs[leader], "retained")) > follower_end, timeout_s=30)

        cluster.restart_when_deregistered(follower)
        wait_until(
            lambda: sorted(cluster.state("retained")["isr"]) == sorted((leader, follower)), timeout_s=60
        )
        more = produce_acked(cluster.bootstrap(), "retained", [b"c%05d" % i + b"." * 100 for i in range(100)])
        leader_end = more[-1][1]

        wait_until(lambda: end_offset_in(cluster.dirs[follower], "retained") == leader_end + 1, timeout_s=60)
        mine, theirs = (
            batches_in(cluster.dirs[follower], "retained"),
            batches_in(cluster.dirs[leader], "retained"),
        )
        assert min(mine) >= follower_end  # its old records went: it restarted past them
        common = max(min(mine), min(theirs))
        assert {b: d for b, d in mine.items() if b >= common} == {
            b: d for b, d in theirs.items() if b >= common
        }
        # Retention keeps trimming what `more` pushed past 16 KiB (checked every 200 ms): a read racing it was
        # sent past the records it deleted meanwhile (OFFSET_OUT_OF_RANGE, reset to the new log start).
        wait_until(lambda: retention_settled(cluster.dirs[leader], "retained", 16384), timeout_s=30)
        log = read_partition(cluster.bootstrap(), "retained")
        assert log, (
            cluster.state("retained"),
            sorted(theirs)[:3],
            cluster.brokers[leader].log_text()[-3000:],
        )
        kept = [(v, o) for v, o in before + after + more if o >= log[0][0]]
        assert_every_acked_record_once_in_place(kept, log)
    finally:
        cluster.stop()


def test_full_cluster_restart_after_timed_out_acks_all_never_shows_what_a_failover_takes_back(
    zookeeper, zk, tmp_path
):
    """(h) acks=all requests time out while the followers are paused (the leader appended them alone),
    then every broker is killed, and the old leader is restarted alone. It leads again, in a new epoch (the
    controller counts it as bounced, as Kafka's does), and nothing a consumer reads there is taken back when
    the others return and the leader is killed. Every acknowledged record stays in place."""
    cluster = Cluster(zookeeper, zk, tmp_path, 3, **{**FAST, "zookeeper.session.timeout.ms": "2000"}).start()
    try:
        r0, r1, r2 = cluster.create_topic("restart", 3, **{"min.insync.replicas": "2"})
        wait_until(lambda: sorted(cluster.state("restart")["isr"]) == [0, 1, 2], timeout_s=60)
        acked = produce_acked(cluster.bootstrap(), "restart", [b"a-%05d" % i for i in range(200)])
        assert [o for _, o in acked] == list(range(200))
        tp = TopicPartition("restart", 0)
        wait_until(lambda: read_high_watermarks(cluster.dirs[r0]).get(tp) == 200, timeout_s=30)

        timing_out = Producer(
            {
                "bootstrap.servers": cluster.bootstrap(r0),
                "acks": "all",
                "request.timeout.ms": 1000,
                "message.timeout.ms": 2000,
                "linger.ms": 0,
            }
        )
        timing_out.produce("restart", b"warm", partition=0)  # r0 leads; connect before the pause
        timing_out.flush(30)
        cluster.pause(r1, r2)
        outcomes: list = []
        for i in range(20):
            timing_out.produce(
                "restart", b"t-%05d" % i, partition=0, on_delivery=lambda e, m: outcomes.append(e)
            )
        timing_out.flush(20)
        assert len(outcomes) == 20
        assert all(e is not None for e in outcomes), "an acks=all request succeeded without the followers"
        assert (
            end_offset_in(cluster.dirs[r0], "restart") > 201
        )  # the leader appended them alone (maybe twice)

        before = cluster.state("restart")["leader_epoch"]
        for b in cluster.brokers:
            b.kill()  # the paused ones too
        for r in (r1, r2):
            wait_until(lambda r=r: not cluster.registered(r), timeout_s=60)
        cluster.restart_when_deregistered(r0)
        # the state still names r0 in its previous run's epoch until the controller counts it as bounced: it leads
        # again only in a new one
        wait_until(
            lambda: (s := cluster.state("restart"))["leader"] == r0 and s["leader_epoch"] > before,
            timeout_s=30,
        )
        seen = read_partition(cluster.bootstrap(r0), "restart")
        # it leads alone (the only live ISR member): its whole log is committed now, the unacknowledged tail
        # too, and the others will truncate to it; what a consumer reads here must survive what follows
        assert [v for _, v in seen][:201] == [b"a-%05d" % i for i in range(200)] + [b"warm"]

        cluster.restart_when_deregistered(r1)
        cluster.restart_when_deregistered(r2)
        wait_until(lambda: sorted(cluster.state("restart")["isr"]) == [0, 1, 2], timeout_s=60)
        epoch = cluster.state("restart")["leader_epoch"]
        cluster.brokers[r0].kill()
        new = cluster.wait_new_leader("restart", epoch)
        assert new["leader"] in (r1, r2)
        cluster.restart_when_deregistered(r0)
        more = produce_acked(cluster.bootstrap(), "restart", [b"b-%05d" % i for i in range(100)])
        wait_until(lambda: sorted(cluster.state("restart")["isr"]) == [0, 1, 2], timeout_s=60)
        cluster.wait_identical_logs("restart")
        final = read_partition(cluster.bootstrap(), "restart")
        assert set(seen) <= set(final), "a consumer read records that the failover took back"
        # the t- values were never acknowledged and their producer was not idempotent: its retries may have
        # written some twice, which the check of acknowledged values must not count
        assert_every_acked_record_once_in_place(acked + more, [(o, v) for o, v in final if v[:2] != b"t-"])
    finally:
        cluster.stop()


def test_one_partition_that_cannot_replicate_never_stops_the_others(zookeeper, zk, tmp_path):
    """A follower whose copy of one partition cannot take the leader's batches (its log ends inside one
    of them) logs that partition, retries it with backoff, and keeps replicating every other partition
    fetched from the same leader."""
    cluster = Cluster(zookeeper, zk, tmp_path, 2, **FAST).start()
    try:
        leader, follower = cluster.create_topic("a-broken", 2, **{"min.insync.replicas": "1"})
        for i in range(10):  # a healthy partition with the same leader (placement is brook's choice)
            healthy_topic = f"b-healthy-{i}"
            if cluster.create_topic(healthy_topic, 2, **{"min.insync.replicas": "1"})[0] == leader:
                break
        assert cluster.state(healthy_topic)["leader"] == leader
        epoch = cluster.state("a-broken")["leader_epoch"]
        one_batch = produce_acked(
            cluster.bootstrap(), "a-broken", [b"x%d" % i for i in range(10)], **{"linger.ms": 200}
        )
        assert [o for _, o in one_batch] == list(range(10))
        assert len(batches_in(cluster.dirs[leader], "a-broken")) == 1
        wait_until(lambda: end_offset_in(cluster.dirs[follower], "a-broken") == 10, timeout_s=30)

        cluster.brokers[follower].stop()
        # the follower's copy now ends at 5, inside the leader's batch 0..9: its batches cannot follow
        partition_dir = cluster.dirs[follower] / "a-broken-0"
        for path in partition_dir.iterdir():
            path.unlink()
        log = FileLog.open(partition_dir, clock=SystemClock())
        log.append_as_leader(
            bytearray(make_batch([(None, b"y%d" % i) for i in range(5)])), leader_epoch=epoch
        )
        log.close()
        cluster.restart_when_deregistered(follower)

        healthy = produce_acked(cluster.bootstrap(), healthy_topic, [b"h%d" % i for i in range(100)])
        end = healthy[-1][1] + 1
        wait_until(lambda: end_offset_in(cluster.dirs[follower], healthy_topic) == end, timeout_s=30)
        assert cluster.brokers[follower].wait_for_log(r"replica fetch tp=a-broken-0 .* failed, retrying", 30)
        more = produce_acked(cluster.bootstrap(), healthy_topic, [b"i%d" % i for i in range(100)])
        end = more[-1][1] + 1
        wait_until(lambda: end_offset_in(cluster.dirs[follower], healthy_topic) == end, timeout_s=30)
        assert end_offset_in(cluster.dirs[follower], "a-broken") == 5
        assert cluster.brokers[follower].process.poll() is None
    finally:
        cluster.stop()
