"""`brook topic describe --under-replicated-partitions / --unavailable-partitions` on a real two-broker
cluster with one broker stopped: the filters list exactly the partitions kafka-topics.sh would."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cluster.cluster_faults import QUIET, cluster_on
from tests.integration.cli_helpers import Brook

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


class _Bootstrap:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap


def _rows_until(brook: Brook, flag: str, expected: list[tuple[str, int]], timeout_s: float = 60.0) -> list:
    deadline = time.monotonic() + timeout_s
    rows: list = []
    while time.monotonic() < deadline:
        rows = brook.json("topic", "describe", "solo", "pair", "healthy", flag)
        if [(r["topic"], r["partition"]) for r in rows] == expected:
            return rows
        time.sleep(0.5)
    raise AssertionError(f"{flag}: expected {expected}, last saw {rows}")


def test_partition_filters_after_a_broker_stops(zookeeper, tmp_path):
    with cluster_on(zookeeper, tmp_path, size=2) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
        topics = [
            NewTopic("solo", 1, replica_assignment=[[1]]),
            NewTopic("pair", 1, replica_assignment=[[0, 1]]),
            NewTopic("healthy", 1, replica_assignment=[[0]]),
        ]
        for future in admin.create_topics(topics).values():
            future.result(30)
        cluster.wait_until(lambda: len(cluster.partition_state("pair", 0)["isr"]) == 2, 60, "pair: full ISR")
        brook = Brook(_Bootstrap(cluster.broker(0).bootstrap))
        assert (
            brook.json("topic", "describe", "solo", "pair", "healthy", "--under-replicated-partitions") == []
        )
        assert brook.json("topic", "describe", "solo", "pair", "healthy", "--unavailable-partitions") == []

        assert cluster.terminate(1) == 0
        rows = _rows_until(brook, "--unavailable-partitions", [("solo", 0)])
        assert rows[0]["replicas"] == [1]
        # Kafka's rule is ISR < replicas: "solo" keeps its last ISR member, so it is unavailable only.
        rows = _rows_until(brook, "--under-replicated-partitions", [("pair", 0)])
        assert rows[0]["isr"] == [0]
        assert rows[0]["leader"] == 0
        text = brook.run("topic", "describe", "solo", "pair", "healthy", "--unavailable-partitions").stdout
        assert text.splitlines() == [
            "TOPIC  PARTITION  LEADER  REPLICAS  ISR",
            "solo   0          -       1         1",
        ]
