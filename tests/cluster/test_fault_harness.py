"""brook.testing.BrookCluster itself: each fault does what it says to real brokers on a real ZooKeeper."""

import os
import signal

import pytest

from tests.cluster.cluster_faults import cluster_on, create_topic, produce, read_partition

pytestmark = [pytest.mark.cluster, pytest.mark.zookeeper, pytest.mark.slow]


def test_a_follower_partitioned_from_the_leader_leaves_the_isr_and_rejoins_after_heal(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path) as cluster:
        leader = create_topic(cluster, "cut")["leader"]
        follower, other = (n for n in range(3) if n != leader)
        cluster.partition(follower, from_=[leader])

        # its fetcher's connection is frozen (a new partition's ISR is every live replica at once, so the
        # fetcher may connect only now: a connection opened during the cut is frozen too)
        def fetcher_flow() -> list[bool]:
            key = (f"broker-{follower}", f"broker-{leader}")
            return [flowing for src, dst, flowing in cluster.network.connections() if (src, dst) == key]

        cluster.wait_until(lambda: fetcher_flow(), 30, "the follower's fetcher connects")
        assert not any(fetcher_flow())
        cluster.wait_until(
            lambda: sorted(cluster.partition_state("cut", 0)["isr"]) == sorted([leader, other]),
            30,
            "ISR shrinks",
        )
        acked = produce(cluster, "cut", [b"v%d" % i for i in range(50)])
        assert follower in cluster.registered_brokers()  # still talking to ZooKeeper
        cluster.heal()
        cluster.wait_until(
            lambda: sorted(cluster.partition_state("cut", 0)["isr"]) == [0, 1, 2], 30, "ISR back"
        )
        assert read_partition(cluster.bootstrap, "cut") == acked
        assert not cluster.unexpected_exits


def test_a_broker_cut_off_from_zookeeper_loses_its_registration_until_healed(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path) as cluster:
        cluster.partition(1, from_=["zookeeper"])
        cluster.wait_until(lambda: cluster.registered_brokers() == [0, 2], 30, "session of broker 1 expires")
        cluster.heal()
        cluster.wait_until(lambda: cluster.registered_brokers() == [0, 1, 2], 30, "broker 1 registers again")
        assert not cluster.unexpected_exits


def test_kill_pause_and_terminate_are_signals_and_an_exit_nobody_asked_for_is_reported(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path) as cluster:
        cluster.pause(0)
        assert cluster.brokers[0].process.poll() is None
        cluster.resume(0)
        assert cluster.terminate(1) == 0  # SIGTERM: a clean exit
        cluster.kill(2)
        assert cluster.brokers[2].process.returncode == -signal.SIGKILL
        assert cluster.up() == [0]
        assert not cluster.unexpected_exits  # the harness did all of that
        os.kill(cluster.brokers[0].process.pid, signal.SIGKILL)  # behind the harness's back
        cluster.wait_until(lambda: cluster.unexpected_exits, 10, "exit noticed")
        [exit_] = cluster.unexpected_exits
        assert (exit_.node_id, exit_.returncode) == (0, -signal.SIGKILL)
