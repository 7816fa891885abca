"""Preferred and unclean leader elections (ElectLeaders, KIP-460) and Kafka's auto leader rebalance.

After a broker restarts, the partitions it prefers (it is their first assigned replica) are led elsewhere. An
operator's PREFERRED election, or the controller's auto rebalance, gives them back once it is in the ISR, in a
new leader epoch, while an idempotent acks=all producer keeps writing: every acknowledged record stays exactly
once, in order.
"""

import json

import pytest
from confluent_kafka import ElectionType, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from brook.testing import BrookProcess
from tests.cluster.brokers import brook_on
from tests.cluster.test_zookeeper_failures import (
    PARTITIONS,
    LoadProducer,
    assert_exactly_acked,
    create_topic,
    full_isr,
    state_of,
)
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def brokers_on(zookeeper, tmp_path, **overrides: str) -> list[BrookProcess]:
    settings = {
        "zookeeper.session.timeout.ms": "6000",
        "replica.lag.time.max.ms": "5000",
        "offsets.topic.replication.factor": "1",
        **overrides,
    }
    return [brook_on(zookeeper, tmp_path / f"b{i}", i, **settings) for i in range(3)]


def preferred(zk, topic: str, partition: int) -> int:
    return json.loads(zk.get(f"/brokers/topics/{topic}")[0])["partitions"][str(partition)][0]


def led_elsewhere(zk, topic: str) -> list[int]:
    return [p for p in range(PARTITIONS) if state_of(zk, topic, p)["leader"] != preferred(zk, topic, p)]


def bounce(brokers: list[BrookProcess], zk, topic: str, victim: int) -> None:
    """Stop `victim` cleanly (its leaderships move off), start it, wait until it is back in every ISR."""
    brokers[victim].stop()
    wait_until(
        lambda: all(state_of(zk, topic, p)["leader"] != victim for p in range(PARTITIONS)), timeout_s=30
    )
    brokers[victim].start()
    wait_until(lambda: full_isr(zk, topic), timeout_s=60)


def test_an_operator_preferred_election_gives_partitions_back_to_their_preferred_leaders(
    zookeeper, zk, tmp_path
):
    brokers = brokers_on(zookeeper, tmp_path, **{"auto.leader.rebalance.enable": "false"})
    for b in brokers:
        b.start()
    try:
        create_topic(brokers, zk, "pref")
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        with LoadProducer(bootstrap, "pref") as load:
            wait_until(lambda: load.acked_count() >= 200, timeout_s=30)
            victim = preferred(zk, "pref", 0)
            bounce(brokers, zk, "pref", victim)
            moved = led_elsewhere(zk, "pref")
            assert 0 in moved  # the auto rebalance is off: nothing gave it back
            epochs = {p: state_of(zk, "pref", p)["leader_epoch"] for p in moved}

            tps = [TopicPartition("pref", p) for p in range(PARTITIONS)]
            # the victim may have been the controller: only the controller elects (NOT_CONTROLLER elsewhere, as
            # Kafka), so ask as a tool started now would, through a client that knows the current controller
            admin = AdminClient({"bootstrap.servers": bootstrap})
            results = admin.elect_leaders(ElectionType.PREFERRED, tps).result(30)
            for tp, error in results.items():
                if tp.partition in moved:
                    assert error is None, (tp, error)
                else:  # already led by its preferred replica
                    assert error is not None
                    assert error.code() == KafkaError.ELECTION_NOT_NEEDED
            assert led_elsewhere(zk, "pref") == []
            for p in moved:
                assert state_of(zk, "pref", p)["leader_epoch"] == epochs[p] + 1
                assert len(state_of(zk, "pref", p)["isr"]) == 3
            # every partition now led by its preferred replica: asking again changes nothing
            again = admin.elect_leaders(ElectionType.PREFERRED, tps).result(30)
            assert all(e is not None and e.code() == KafkaError.ELECTION_NOT_NEEDED for e in again.values())
            # all partitions (None): those that needed none are left out of the answer
            assert admin.elect_leaders(ElectionType.PREFERRED, None).result(30) == {}
            # an unclean election where the leader lives is not needed; an unknown partition is unknown
            unclean = admin.elect_leaders(ElectionType.UNCLEAN, [TopicPartition("pref", 1)]).result(30)
            assert unclean[TopicPartition("pref", 1)].code() == KafkaError.ELECTION_NOT_NEEDED
            unknown = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition("nosuch", 0)]).result(30)
            assert unknown[TopicPartition("nosuch", 0)].code() == KafkaError.UNKNOWN_TOPIC_OR_PART

            acked = load.acked_count()
            wait_until(lambda: load.acked_count() >= acked + 200, timeout_s=30)
        assert load.errors == []
        assert_exactly_acked(bootstrap, load)
    finally:
        for b in brokers:
            b.kill()


def test_the_auto_leader_rebalance_gives_partitions_back_after_a_restart(zookeeper, zk, tmp_path):
    brokers = brokers_on(zookeeper, tmp_path, **{"leader.imbalance.check.interval.seconds": "2"})
    for b in brokers:
        b.start()
    try:
        create_topic(brokers, zk, "auto")
        bootstrap = ",".join(b.bootstrap for b in brokers)
        with LoadProducer(bootstrap, "auto") as load:
            wait_until(lambda: load.acked_count() >= 200, timeout_s=30)
            victim = preferred(zk, "auto", 0)
            brokers[victim].kill()  # a crash this time
            wait_until(lambda: state_of(zk, "auto", 0)["leader"] != victim, timeout_s=30)
            brokers[victim].start()
            # back in the ISR, then leading its partitions again without any request
            wait_until(lambda: full_isr(zk, "auto") and led_elsewhere(zk, "auto") == [], timeout_s=60)
            acked = load.acked_count()
            wait_until(lambda: load.acked_count() >= acked + 200, timeout_s=30)
        assert load.errors == []
        assert_exactly_acked(bootstrap, load)
        assert "auto leader rebalance" in "\n".join(b.log_text() for b in brokers)
    finally:
        for b in brokers:
            b.kill()
