"""`brook acl create|list|delete` with kafka-acls.sh's flags against a broker with the authorizer on, as a SASL
user given with -X (the admin, a super user; bob, who may not change ACLs)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from brook.cli.main import cli
from brook.testing.broker_process import BrookProcess, report_on_failure
from tests.integration.acl_helpers import USERS, authorizer_overrides

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(tmp_path_factory.mktemp("cli-acl"), overrides=authorizer_overrides()) as process:
        yield process


@pytest.fixture(autouse=True)
def _report(broker):
    report_on_failure(broker)


def brook(broker: BrookProcess, *args: str, user: str = "admin", expect: int = 0) -> Result:
    security = [
        "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=PLAIN",
        "-X", f"sasl.username={user}", "-X", f"sasl.password={USERS[user]}",
    ]  # fmt: skip
    argv = [*args, "-b", broker.listener_bootstrap("SASL_PLAINTEXT"), *security]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == expect, (
        f"brook {' '.join(args)}: {result.exit_code}\n{result.stdout}\n{result.stderr}"
    )
    return result


def rows(broker: BrookProcess, *args: str) -> list[dict[str, str]]:
    return json.loads(brook(broker, "acl", "list", *args, "--format", "json").stdout)


def test_create_list_and_delete_with_kafka_acls_flags(broker):
    out = brook(
        broker, "acl", "create", "--allow-principal", "User:carol", "--operation", "Read",
        "--operation", "describe_configs", "--topic", "orders",
    ).stdout  # fmt: skip
    assert "Created 2 ACLs." in out
    brook(
        broker, "acl", "create", "--deny-principal", "User:carol", "--deny-host", "10.0.0.9",
        "--topic", "team-", "--resource-pattern-type", "prefixed",
    )  # fmt: skip
    carol = rows(broker, "--principal", "User:carol")
    assert sorted(
        (r["name"], r["pattern_type"], r["operation"], r["permission_type"], r["host"]) for r in carol
    ) == [
        ("orders", "LITERAL", "DescribeConfigs", "Allow", "*"),
        ("orders", "LITERAL", "Read", "Allow", "*"),
        ("team-", "PREFIXED", "All", "Deny", "10.0.0.9"),
    ]
    matching = rows(broker, "--topic", "team-orders", "--resource-pattern-type", "match")
    assert [(r["name"], r["principal"]) for r in matching] == [("team-", "User:carol")]
    deleted = json.loads(
        brook(
            broker, "acl", "delete", "--allow-principal", "User:carol", "--operation", "Read",
            "--topic", "orders", "--force", "--format", "json",
        ).stdout
    )  # fmt: skip
    assert [(r["name"], r["operation"]) for r in deleted] == [("orders", "Read")]
    brook(broker, "acl", "delete", "--topic", "team-", "--resource-pattern-type", "prefixed")
    assert [(r["name"], r["operation"]) for r in rows(broker, "--principal", "User:carol")] == [
        ("orders", "DescribeConfigs")
    ]
    text = brook(broker, "acl", "list", "--topic", "orders").stdout
    assert "User:carol" in text
    assert "DescribeConfigs" in text


def test_consumer_and_producer_convenience_flags(broker):
    brook(
        broker,
        "acl",
        "create",
        "--allow-principal",
        "User:dave",
        "--consumer",
        "--topic",
        "feed",
        "--group",
        "dave-g",
    )
    brook(
        broker, "acl", "create", "--allow-principal", "User:dave", "--producer", "--idempotent",
        "--topic", "out", "--transactional-id", "dave-tx",
    )  # fmt: skip
    dave = {(r["resource_type"], r["name"], r["operation"]) for r in rows(broker, "--principal", "User:dave")}
    assert dave == {
        ("Topic", "feed", "Read"),
        ("Topic", "feed", "Describe"),
        ("Group", "dave-g", "Read"),
        ("Topic", "out", "Write"),
        ("Topic", "out", "Describe"),
        ("Topic", "out", "Create"),
        ("TransactionalId", "dave-tx", "Write"),
        ("TransactionalId", "dave-tx", "Describe"),
        ("Cluster", "kafka-cluster", "IdempotentWrite"),
    }


def test_refusals_are_one_line_errors(broker):
    result = brook(
        broker, "acl", "create", "--allow-principal", "User:x", "--operation", "Read", "--cluster", expect=2
    )
    assert "ResourceType Cluster only supports operations" in result.stderr
    result = brook(
        broker, "acl", "create", "--allow-principal", "User:x", "--topic", "t", user="bob", expect=1
    )
    assert "authorization" in result.stderr.lower()
    result = brook(broker, "acl", "create", "--allow-principal", "x", "--topic", "t", expect=2)
    assert "TYPE:NAME" in result.stderr
