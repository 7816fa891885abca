"""`brook quota alter|describe` against a real broker, like kafka-configs.sh --entity-type clients|users."""

from __future__ import annotations

import pytest

from tests.integration.cli_helpers import Brook, module_broker_fixture

cli_broker = module_broker_fixture()


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


def test_alter_describe_and_delete_quotas(brook):
    out = brook.run(
        "quota", "alter", "--entity-type", "clients", "--entity-name", "app",
        "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152",
    ).stdout  # fmt: skip
    assert "Completed updating quotas for client-id=app." in out
    brook.run(
        "quota", "alter", "--user", "alice", "--client-default", "--add-config", "request_percentage=25"
    )
    assert brook.json("quota", "describe", "--entity-type", "clients", "--entity-name", "app") == [
        {
            "entity": {"client-id": "app"},
            "quotas": {"consumer_byte_rate": 2097152.0, "producer_byte_rate": 1048576.0},
        }
    ]
    everything = brook.json("quota", "describe")
    assert {
        "entity": {"user": "alice", "client-id": None},
        "quotas": {"request_percentage": 25.0},
    } in everything
    assert len(everything) == 2
    text = brook.run("quota", "describe", "--user", "alice", "--client-default").stdout
    assert "user=alice, client-id=<default>" in text
    assert "request_percentage" in text
    brook.run(
        "quota",
        "alter",
        "--entity-type",
        "clients",
        "--entity-name",
        "app",
        "--delete-config",
        "producer_byte_rate",
    )
    assert brook.json("quota", "describe", "--client", "app") == [
        {"entity": {"client-id": "app"}, "quotas": {"consumer_byte_rate": 2097152.0}}
    ]


def test_refused_changes_are_one_line_errors(brook):
    result = brook.run("quota", "alter", "--client", "app", "--add-config", "bogus_rate=1", expect=1)
    assert "Invalid configuration key bogus_rate" in result.stderr
    result = brook.run("quota", "alter", "--add-config", "producer_byte_rate=1", expect=2)
    assert "name an entity" in result.stderr
