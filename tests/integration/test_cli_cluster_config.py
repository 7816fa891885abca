"""`brook cluster config describe|alter`: dynamic broker configs on one node (kept in the embedded store)."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from brook.testing import BrookProcess
from tests.integration.cli_helpers import Brook, table


@pytest.fixture
def broker(tmp_path):
    with BrookProcess(data_dir=tmp_path / "data") as process:
        yield process


def topic_config(broker: BrookProcess, topic: str, key: str) -> tuple[str, int]:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource("topic", topic)
    entry = admin.describe_configs([resource])[resource].result(15)[key]
    return entry.value, int(entry.source)


def test_dynamic_broker_configs_apply_live_and_persist(broker):
    brook = Brook(broker)
    brook.run("topic", "create", "follows")
    brook.run("topic", "create", "own", "--config", "retention.ms=1000")
    assert (
        brook.run("cluster", "config", "describe").stdout.strip()
        == "No dynamic configs for the cluster-wide default."
    )

    out = brook.run("cluster", "config", "alter", "--add-config", "log.retention.ms=5000").stdout
    assert out.strip() == "Completed updating default config for brokers in the cluster."
    assert table(brook.run("cluster", "config", "describe").stdout) == [
        {
            "KEY": "log.retention.ms",
            "VALUE": "5000",
            "SOURCE": "DYNAMIC_DEFAULT_BROKER_CONFIG",
            "READ-ONLY": "no",
        }
    ]
    # a topic without an override follows the broker's value at once; one with an override keeps it
    assert topic_config(broker, "follows", "retention.ms") == ("5000", 3)  # DYNAMIC_DEFAULT_BROKER_CONFIG
    assert topic_config(broker, "own", "retention.ms") == ("1000", 1)  # DYNAMIC_TOPIC_CONFIG

    brook.run("cluster", "config", "alter", "--broker", 0, "--set", "log.retention.ms=7000")
    assert topic_config(broker, "follows", "retention.ms") == ("7000", 2)  # DYNAMIC_BROKER_CONFIG wins
    rows = table(brook.run("cluster", "config", "describe", "--broker", 0).stdout)
    assert [(r["KEY"], r["VALUE"], r["SOURCE"]) for r in rows] == [
        ("log.retention.ms", "7000", "DYNAMIC_BROKER_CONFIG")
    ]
    every = {r["name"]: r for r in brook.json("cluster", "config", "describe", "--broker", 0, "--all")}
    assert every["num.partitions"] == {
        "name": "num.partitions",
        "value": "1",
        "source": "DEFAULT_CONFIG",
        "read_only": True,
    }
    assert every["log.retention.ms"]["read_only"] is False

    refused = brook.run("cluster", "config", "alter", "--set", "num.partitions=3", expect=1)
    assert refused.stderr.strip() == (
        "brook: the cluster-wide default: Invalid config value for resource ConfigResource(type=BROKER, name=''): "
        "Cannot update these configs dynamically: Set(num.partitions)"
    )
    bad = brook.run("cluster", "config", "alter", "--broker", 0, "--set", "log.retention.ms=soon", expect=1)
    assert "Invalid value soon for configuration log.retention.ms: Not a number of type LONG" in bad.stderr

    broker.restart()
    assert topic_config(broker, "follows", "retention.ms") == ("7000", 2)
    brook.run("cluster", "config", "alter", "--broker", 0, "--delete-config", "log.retention.ms")
    assert topic_config(broker, "follows", "retention.ms") == ("5000", 3)
    brook.run("cluster", "config", "alter", "--delete", "log.retention.ms")
    assert topic_config(broker, "follows", "retention.ms") == ("604800000", 5)  # DEFAULT_CONFIG
