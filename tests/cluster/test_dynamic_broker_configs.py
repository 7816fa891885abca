"""Dynamic broker configs on a ZooKeeper cluster: Kafka's /config/brokers/<default> and /config/brokers/<id>."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cluster.brokers import brook_on
from tests.integration.cli_helpers import Brook, table
from tests.integration.helpers import wait_until
from tests.integration.raw_client import RawClient

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def retention_of(bootstrap: str, topic: str) -> tuple[str, int] | None:
    """retention.ms of the topic as that very broker sees it (DescribeConfigs v1 sent to it, not routed)."""
    client = RawClient(bootstrap)
    try:
        body = {
            "resources": [
                {"resource_type": 2, "resource_name": topic, "configuration_keys": ["retention.ms"]}
            ]
        }
        [result] = client.request(32, 1, body).results
    finally:
        client.close()
    if not result.configs:  # broker 1 has not read the new topic from ZooKeeper yet (an error, no entry)
        return None
    [entry] = result.configs
    return entry.value, int(entry.config_source)


def test_cluster_default_and_per_broker_configs_live_in_zookeeper(zookeeper, zk, tmp_path):
    session = {"zookeeper.session.timeout.ms": "6000"}
    with (
        brook_on(zookeeper, tmp_path / "b0", 0, **session) as b0,
        brook_on(zookeeper, tmp_path / "b1", 1, **session) as b1,
    ):
        admin = AdminClient({"bootstrap.servers": b0.bootstrap})
        admin.create_topics([NewTopic("t", 1, 1)])["t"].result(15)
        wait_until(lambda: retention_of(b1.bootstrap, "t") == ("604800000", 5))

        # set through broker 0, seen by broker 1 through its ZooKeeper watch
        Brook(b0).run("cluster", "config", "alter", "--set", "log.retention.ms=5000")
        assert json.loads(zk.get("/config/brokers/<default>")[0]) == {
            "version": 1,
            "config": {"log.retention.ms": "5000"},
        }
        wait_until(lambda: retention_of(b1.bootstrap, "t") == ("5000", 3))

        # one broker's own value: in /config/brokers/1, applied by broker 1 only
        Brook(b0).run("cluster", "config", "alter", "--broker", 1, "--set", "log.retention.ms=7000")
        assert json.loads(zk.get("/config/brokers/1")[0]) == {
            "version": 1,
            "config": {"log.retention.ms": "7000"},
        }
        assert retention_of(b1.bootstrap, "t") == ("7000", 2)
        assert retention_of(b0.bootstrap, "t") == ("5000", 3)
        rows = table(Brook(b0).run("cluster", "config", "describe", "--broker", 1).stdout)
        assert [(r["KEY"], r["VALUE"], r["SOURCE"]) for r in rows] == [
            ("log.retention.ms", "7000", "DYNAMIC_BROKER_CONFIG")
        ]

        # a restarted broker reads them back from ZooKeeper
        b1.restart()
        wait_until(lambda: _or_none(lambda: retention_of(b1.bootstrap, "t")) == ("7000", 2), timeout_s=30)


def _or_none(call):
    try:
        return call()
    except Exception:  # noqa: BLE001 - the broker is still starting
        return None
