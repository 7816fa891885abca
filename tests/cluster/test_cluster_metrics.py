"""Kafka's replication and controller metrics on a real 3-broker cluster, against what ZooKeeper says happened.

A paused follower drops out of the ISRs of the partitions the others lead (IsrShrinks, UnderReplicatedPartitions)
and comes back (IsrExpands); a killed controller is replaced by exactly one other (ActiveControllerCount), which
elects a new leader for every partition the dead broker led, and its partitions stay under-replicated.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing.cluster import BrookCluster
from tests.integration.helpers import produce_all
from tests.integration.metrics_helpers import METRICS_ON, Scrape, metrics_url, scrape

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

OVERRIDES = {
    **METRICS_ON,
    # a paused broker keeps its session long enough for the leaders to shrink their ISRs themselves
    "zookeeper.session.timeout.ms": "15000",
    "replica.lag.time.max.ms": "2000",
    "auto.leader.rebalance.enable": "false",  # only the elections a failure causes
}
DEADLINE_S = 90


def partition_states(cluster: BrookCluster) -> dict[tuple[str, int], dict]:
    """Every partition's replicas, leader and ISR, from ZooKeeper."""
    zk = cluster.zk
    states = {}
    for topic in zk.get_children("/brokers/topics"):
        assignment = json.loads(zk.get(f"/brokers/topics/{topic}")[0])["partitions"]
        for p, replicas in assignment.items():
            state = json.loads(zk.get(f"/brokers/topics/{topic}/partitions/{p}/state")[0])
            states[(topic, int(p))] = {"replicas": replicas, "leader": state["leader"], "isr": state["isr"]}
    return states


def full_isrs(cluster: BrookCluster) -> bool:
    return all(sorted(s["isr"]) == sorted(s["replicas"]) for s in partition_states(cluster).values())


def total(scrapes: dict[int, Scrape], name: str, nodes: list[int]) -> float:
    return sum(scrapes[n].value(name) for n in nodes)


def test_isr_shrinks_expands_under_replication_and_a_new_controller_after_a_kill(zookeeper, tmp_path):
    with BrookCluster(3, zookeeper=zookeeper, data_dir=tmp_path, overrides=OVERRIDES) as cluster:
        urls = {n: metrics_url(b) for n, b in cluster.brokers.items()}
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        admin.create_topics([NewTopic("watched", 6, 3)])["watched"].result(30)
        produce_all(cluster.bootstrap, "watched", [(b"k%d" % i, b"v") for i in range(60)], acks="all")
        cluster.wait_until(lambda: full_isrs(cluster), DEADLINE_S, "full ISRs")

        # what the leaders sent their followers is what the followers appended (ReplicationBytesIn/Out)
        def replication_bytes() -> tuple[float, float]:
            scrapes = {n: scrape(urls[n]) for n in range(3)}
            return (
                total(scrapes, "kafka_server_brokertopicmetrics_replicationbytesout_total", list(range(3))),
                total(scrapes, "kafka_server_brokertopicmetrics_replicationbytesin_total", list(range(3))),
            )

        cluster.wait_until(
            lambda: (sent := replication_bytes())[0] > 0 and sent[0] == sent[1],
            DEADLINE_S,
            "replication bytes in = replication bytes out",
        )
        controller = cluster.controller()
        assert controller is not None
        assert [
            scrape(urls[n]).value("kafka_controller_kafkacontroller_activecontrollercount") for n in range(3)
        ] == [int(n == controller) for n in range(3)]

        # --- a paused follower: the other leaders shrink their ISRs, then take it back -----------------------
        victim = next(n for n in range(3) if n != controller)
        others = [n for n in range(3) if n != victim]
        shrunk = [
            tp
            for tp, s in partition_states(cluster).items()
            if s["leader"] in others and victim in s["replicas"]
        ]
        assert len(shrunk) >= 4  # of "watched" alone the others lead 4 of 6
        before = {n: scrape(urls[n]) for n in others}
        shrinks = "kafka_server_replicamanager_isrshrinks_total"
        expands = "kafka_server_replicamanager_isrexpands_total"
        under = "kafka_server_replicamanager_underreplicatedpartitions"
        cluster.pause(victim)
        try:
            cluster.wait_until(
                lambda: (
                    total({n: scrape(urls[n]) for n in others}, shrinks, others)
                    - total(before, shrinks, others)
                    == len(shrunk)
                ),
                DEADLINE_S,
                "ISR shrinks on the other leaders",
            )
            during = {n: scrape(urls[n]) for n in others}
            assert total(during, under, others) == len(shrunk)
            for topic, p in shrunk:
                leader = partition_states(cluster)[(topic, p)]["leader"]
                if topic == "watched":
                    assert (
                        during[leader].value(
                            "kafka_cluster_partition_underreplicated", topic=topic, partition=str(p)
                        )
                        == 1
                    )
        finally:
            cluster.resume(victim)
        cluster.wait_until(
            lambda: (
                total({n: scrape(urls[n]) for n in others}, expands, others) - total(before, expands, others)
                == len(shrunk)
            ),
            DEADLINE_S,
            "ISR expands once the follower is back",
        )
        cluster.wait_until(lambda: full_isrs(cluster), DEADLINE_S, "full ISRs again")
        cluster.wait_until(
            lambda: total({n: scrape(urls[n]) for n in range(3)}, under, list(range(3))) == 0,
            DEADLINE_S,
            "no under-replicated partition",
        )
        after = {n: scrape(urls[n]) for n in others}
        assert total(after, shrinks, others) - total(before, shrinks, others) == len(
            shrunk
        )  # one each, no more

        # --- the controller killed: exactly one other takes over and elects the leaders it lost ----------------
        states = partition_states(cluster)
        led = [tp for tp, s in states.items() if s["leader"] == controller]
        hosted = [tp for tp, s in states.items() if controller in s["replicas"]]
        assert len(led) >= 2  # of "watched" it leads 2 of 6
        survivors = [n for n in range(3) if n != controller]
        before = {n: scrape(urls[n]) for n in survivors}
        cluster.kill(controller)

        def new_controller() -> list[int]:
            """The one survivor that says it is the controller, as a one-item list (broker 0 is falsy)."""
            scrapes = {n: scrape(urls[n]) for n in survivors}
            active = [
                n
                for n in survivors
                if scrapes[n].value("kafka_controller_kafkacontroller_activecontrollercount")
            ]
            return active if len(active) == 1 else []

        [elected] = cluster.wait_until(new_controller, DEADLINE_S, "a new controller")
        elections = "brook_controller_partition_leader_elections_total"
        cluster.wait_until(
            lambda: scrape(urls[elected]).value(elections) - before[elected].value(elections) == len(led),
            DEADLINE_S,
            "a new leader for every partition the dead controller led",
        )
        cluster.wait_until(
            lambda: total({n: scrape(urls[n]) for n in survivors}, under, survivors) == len(hosted),
            DEADLINE_S,
            "its partitions under-replicated",
        )
        final = {n: scrape(urls[n]) for n in survivors}
        assert [
            final[n].value("kafka_controller_kafkacontroller_activecontrollercount") for n in survivors
        ] == [int(n == elected) for n in survivors]
        assert final[elected].value(elections) - before[elected].value(elections) == len(led)
        assert final[elected].value("kafka_controller_controllerstats_uncleanleaderelections_total") == 0
        assert final[elected].value("kafka_controller_controllerstats_leaderelectionrateandtimems_count") >= 1
        assert final[elected].value("kafka_controller_kafkacontroller_offlinepartitionscount") == 0
        assert final[elected].value("kafka_controller_kafkacontroller_globalpartitioncount") == len(states)
        assert all(partition_states(cluster)[tp]["leader"] in survivors for tp in led)


def test_offline_partitions_and_an_unclean_election_on_the_controller(zookeeper, tmp_path):
    overrides = {
        **METRICS_ON,
        "zookeeper.session.timeout.ms": "6000",
        "unclean.leader.election.enable": "true",
    }
    with BrookCluster(3, zookeeper=zookeeper, data_dir=tmp_path, overrides=overrides) as cluster:
        controller = cluster.controller()
        assert controller is not None
        url = metrics_url(cluster.broker(controller))
        leader, follower = [n for n in range(3) if n != controller]
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        admin.create_topics([NewTopic("unclean", 1, replica_assignment=[[leader, follower]])])[
            "unclean"
        ].result(30)
        cluster.wait_until(
            lambda: sorted(cluster.partition_state("unclean", 0)["isr"]) == sorted([leader, follower])
        )
        unclean = "kafka_controller_controllerstats_uncleanleaderelections_total"
        offline = "kafka_controller_kafkacontroller_offlinepartitionscount"
        assert scrape(url).value(unclean) == 0
        cluster.kill(follower)  # the controller takes it out of the ISR
        cluster.wait_until(
            lambda: cluster.partition_state("unclean", 0)["isr"] == [leader], DEADLINE_S, "ISR [leader]"
        )
        cluster.kill(leader)  # no live ISR member: offline, until the out-of-sync follower comes back
        cluster.wait_until(lambda: cluster.leader("unclean", 0) is None, DEADLINE_S, "the partition offline")
        cluster.wait_until(lambda: scrape(url).value(offline) == 1, DEADLINE_S, "one offline partition")
        assert scrape(url).value(unclean) == 0
        cluster.start_broker(follower)
        cluster.wait_until(
            lambda: cluster.leader("unclean", 0) == follower, DEADLINE_S, "the follower elected"
        )
        # the controller's gauges follow its own view of the state it wrote: poll them with a deadline too
        cluster.wait_until(lambda: scrape(url).value(offline) == 0, DEADLINE_S, "no offline partition")
        assert scrape(url).value(unclean) == 1
