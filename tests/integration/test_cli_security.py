"""`brook user` (SCRAM credentials) and every kind of `brook` command against a SASL_SSL listener with
-X / --command-config client properties (librdkafka's commands and brook's own sockets alike)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from brook.cli.main import cli
from brook.testing.broker_process import BrookProcess, report_on_failure
from brook.testing.security import TestPki, secured_listeners
from tests.integration.cli_helpers import table, unique


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki):
    with BrookProcess(overrides=secured_listeners(pki)) as broker:
        yield broker


@pytest.fixture(autouse=True)
def _report(secured):
    report_on_failure(secured)


def brook(*args: Any, bootstrap: str, expect: int = 0, input: str | None = None) -> Any:
    result = CliRunner().invoke(cli, [*map(str, args), "-b", bootstrap], input=input)
    assert result.exit_code == expect, f"{args}: {result.stdout}\n{result.stderr}\n{result.exception!r}"
    return result


def test_users_are_created_described_and_deleted_and_commands_run_over_sasl_ssl(secured, pki, tmp_path):
    plain = secured.bootstrap
    created = brook(
        "user", "create", "ops", "--password", "ops-secret", "--iterations", "8192", bootstrap=plain
    )
    assert "Set SCRAM-SHA-256, SCRAM-SHA-512 credentials for user ops." in created.stdout
    rows = table(brook("user", "describe", "ops", bootstrap=plain).stdout)
    assert rows == [
        {"USER": "ops", "MECHANISM": "SCRAM-SHA-256", "ITERATIONS": "8192"},
        {"USER": "ops", "MECHANISM": "SCRAM-SHA-512", "ITERATIONS": "8192"},
    ]

    properties = tmp_path / "client.properties"
    properties.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=ops\n"
        f"sasl.password=ops-secret\nssl.ca.location={pki.ca}\n"
    )
    secure = secured.listener_bootstrap("SASL_SSL")
    topic = unique("sec")
    brook("topic", "create", topic, "--partitions", "1", "--command-config", properties, bootstrap=secure)
    brook("produce", topic, "--command-config", properties, input="a\nb\nc\n", bootstrap=secure)
    consumed = brook(
        "consume", topic, "--from-beginning", "-n", "3", "--command-config", properties, bootstrap=secure
    )
    assert consumed.stdout.split() == ["a", "b", "c"]
    described = brook("topic", "describe", topic, "--command-config", properties, bootstrap=secure)
    assert "SIZE" in described.stdout  # brook's own socket (DescribeLogDirs) authenticated too
    assert "unknown" not in described.stdout.lower()
    # -X pairs instead of a file, SCRAM-SHA-256 on the same user; a raw-socket command (client quotas)
    x_flags = [
        "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=SCRAM-SHA-256",
        "-X", "sasl.username=ops", "-X", "sasl.password=ops-secret", "-X", f"ssl.ca.location={pki.ca}",
    ]  # fmt: skip
    assert "No quotas." in brook("quota", "describe", *x_flags, bootstrap=secure).stdout
    wrong = [flag.replace("sasl.password=ops-secret", "sasl.password=wrong") for flag in x_flags]
    failed = brook("quota", "describe", *wrong, bootstrap=secure, expect=1)
    assert "SASL authentication failed" in failed.stderr

    deleted = brook("user", "delete", "ops", "--mechanism", "SCRAM-SHA-512", bootstrap=plain)
    assert "Deleted SCRAM-SHA-512 credentials of user ops." in deleted.stdout
    assert table(brook("user", "describe", bootstrap=plain).stdout) == [
        {"USER": "ops", "MECHANISM": "SCRAM-SHA-256", "ITERATIONS": "8192"}
    ]
    brook("user", "delete", "ops", bootstrap=plain)
    assert "No SCRAM users." in brook("user", "describe", bootstrap=plain).stdout
    missing = brook("user", "describe", "ops", bootstrap=plain, expect=1)
    assert "ops" in missing.stderr
