"""The Java client (kafka-clients 4.4.0 and 3.9.2) over SSL, SASL_PLAINTEXT and SASL_SSL with PLAIN and SCRAM:
produce, consume in a group, commit. PEM truststore (KIP-651), JAAS config in the client properties."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from brook.testing import BrookProcess
from brook.testing.security import TestPki, add_scram_user, secured_listeners
from tests.integration.java.helpers import create_topic, open_consumer, read

PLAIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";'
SCRAM_JAAS = (
    'org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="bob-secret";'
)
CASES = [
    ("SSL", None),
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_SSL", "SCRAM-SHA-256"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Iterator[BrookProcess]:
    """This module's broker (the java fixture's admin uses its PLAINTEXT listener)."""
    overrides = secured_listeners(pki, plain_users={"alice": "alice-secret"})
    with BrookProcess(data_dir=tmp_path_factory.mktemp("brook"), overrides=overrides) as b:
        add_scram_user(b.bootstrap, "bob", "bob-secret")
        yield b


def _security(broker: BrookProcess, pki: TestPki, listener: str, mechanism: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": broker.listener_bootstrap(listener),
        "security.protocol": listener,
    }
    if "SSL" in listener:
        config |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca)}
    if mechanism:
        config |= {
            "sasl.mechanism": mechanism,
            "sasl.jaas.config": PLAIN_JAAS if mechanism == "PLAIN" else SCRAM_JAAS,
        }
    return config


@pytest.mark.parametrize(
    ("listener", "mechanism"), CASES, ids=[f"{lst}-{m}" if m else lst for lst, m in CASES]
)
def test_java_client_produce_consume_commit(java, broker, pki, names, listener, mechanism):
    topic = names(f"sec-{listener}")
    create_topic(java, topic, 1)
    security = _security(broker, pki, listener, mechanism)
    records = [{"key": f"k{i}", "value": f"v{i}", "headers": []} for i in range(10)]
    acked = java.call("produce", config={**security, "acks": "all"}, topic=topic, records=records)
    assert [m.get("offset") for m in acked] == list(range(10))
    group = names("sec-group")
    consumer = open_consumer(java, broker, group, **security, **{"group.id": group, "subscribe": [topic]})
    assert [r["value"] for r in read(java, consumer, 10)] == [f"v{i}" for i in range(10)]
    java.call("consumer_commit", name=consumer)
    committed = java.call("consumer_committed", name=consumer, partitions=[[topic, 0]])
    java.call("consumer_close", name=consumer)
    assert list(committed.values()) == [10]
