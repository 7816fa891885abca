"""Kafka's kafka-acls.sh (4.3, and 3.9's Scala AclCommand) against a brook with the authorizer on: add, list and
remove ACLs over SASL as a super user (--command-config), and what they grant is what a user then may do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brook.testing import BrookProcess
from tests.integration.acl_helpers import USERS, authorizer_overrides, sasl_raw
from tests.integration.raw_client import RawClient
from tests.tools.kafka_tools import run_tool, write_properties

pytestmark = pytest.mark.slow

TOPIC_DENIED, UNKNOWN_TOPIC = 29, 3


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with BrookProcess(tmp_path_factory.mktemp("kafka-acls"), overrides=authorizer_overrides()) as process:
        yield process


@pytest.fixture(scope="module")
def admin_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kafka-acls-config") / "admin.properties"
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{USERS["admin"]}";'
    )
    write_properties(
        path, {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.jaas.config": jaas}
    )
    return path


def _describe_error(raw: RawClient, topic: str) -> int:
    body = {"topics": [{"name": topic}], "allow_auto_topic_creation": False}
    return raw.request(3, 12, body).topics[0].error_code


@pytest.mark.parametrize("kafka", [4, 3])
def test_kafka_acls_adds_lists_and_removes(broker: BrookProcess, admin_config: Path, kafka: int) -> None:
    b = broker.listener_bootstrap("SASL_PLAINTEXT")
    common = ["--bootstrap-server", b, "--command-config", str(admin_config)]
    topic, user = f"acl-tool-{kafka}", f"User:tool{kafka}"
    entry = f"(principal={user}, host=*, operation=READ, permissionType=ALLOW)"
    added = run_tool(
        "kafka-acls", *common, "--add", "--allow-principal", user, "--operation", "Read", "--topic", topic,
        kafka=kafka,
    ).stdout  # fmt: skip
    assert f"resourceType=TOPIC, name={topic}, patternType=LITERAL" in added
    assert entry in added
    run_tool(
        "kafka-acls", *common, "--add", "--allow-principal", user, "--operation", "Write",
        "--topic", f"{topic}-", "--resource-pattern-type", "prefixed", kafka=kafka,
    )  # fmt: skip
    listed = run_tool("kafka-acls", *common, "--list", "--principal", user, kafka=kafka).stdout
    assert entry in listed
    assert f"name={topic}-, patternType=PREFIXED" in listed
    assert f"(principal={user}, host=*, operation=WRITE, permissionType=ALLOW)" in listed

    run_tool("kafka-acls", *common, "--remove", "--force", "--topic", topic, kafka=kafka)
    listed = run_tool("kafka-acls", *common, "--list", "--topic", topic, kafka=kafka).stdout
    assert entry not in listed


def test_what_kafka_acls_grants_is_enforced(broker: BrookProcess, admin_config: Path) -> None:
    b = broker.listener_bootstrap("SASL_PLAINTEXT")
    common = ["--bootstrap-server", b, "--command-config", str(admin_config)]
    bob = sasl_raw(b, "bob")
    try:
        assert _describe_error(bob, "granted") == TOPIC_DENIED
        run_tool("kafka-acls", *common, "--add", "--allow-principal", "User:bob", "--operation", "Describe",
                 "--topic", "granted")  # fmt: skip
        assert (
            _describe_error(bob, "granted") != TOPIC_DENIED
        )  # UNKNOWN_TOPIC_OR_PARTITION: it does not exist
    finally:
        bob.close()
