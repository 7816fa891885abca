"""franz-go and Sarama over SSL, SASL_PLAINTEXT and SASL_SSL with PLAIN and SCRAM-SHA-256/512: produce, consume
in a group, commit (the `franz-secure` and `sarama-secure` scenarios of the Go driver; settings in
BROOK_SECURITY; Sarama's SCRAM client is the driver's own, RFC 5802)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from brook.testing.broker_process import BrookProcess, report_on_failure
from brook.testing.security import TestPki, add_scram_user, secured_listeners
from tests.clients.go_driver import GO_BIN

CASES = [
    ("SSL", None),
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_SSL", "SCRAM-SHA-256"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki):
    with BrookProcess(overrides=secured_listeners(pki, plain_users={"alice": "alice-secret"})) as broker:
        add_scram_user(broker.bootstrap, "bob", "bob-secret")
        yield broker


@pytest.mark.parametrize("scenario", ["franz-secure", "sarama-secure"])
@pytest.mark.parametrize(
    ("listener", "mechanism"), CASES, ids=[f"{lst}-{m}" if m else lst for lst, m in CASES]
)
def test_go_clients_produce_consume_commit(secured, pki, listener, mechanism, scenario):
    report_on_failure(secured)
    binary = GO_BIN / "brookgo"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: `make go-clients` (part of `make test`) builds it", pytrace=False)
    user, password = ("alice", "alice-secret") if mechanism == "PLAIN" else ("bob", "bob-secret")
    security = {
        "ca": str(pki.ca) if "SSL" in listener else "",
        "mechanism": mechanism or "",
        "username": user if mechanism else "",
        "password": password if mechanism else "",
    }
    topic = f"{scenario}-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [str(binary), scenario, secured.listener_bootstrap(listener), topic],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BROOK_SECURITY": json.dumps(security)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["values"] == [f"v{i}" for i in range(10)]
    assert report["committed"] == 10
