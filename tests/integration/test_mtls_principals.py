"""Mutual TLS principals with a real client (librdkafka): ssl.principal.mapping.rules turns the client
certificate's DN into the principal the authorizer checks, so ACLs name `User:writer@payments`."""

from __future__ import annotations

import uuid

import confluent_kafka
import pytest
from confluent_kafka.admin import AclOperation, AdminClient, NewTopic, ResourceType

from brook.testing.broker_process import BrookProcess, report_on_failure
from brook.testing.security import TestPki
from tests.integration.acl_helpers import acl, authorizer_overrides, client_conf, create_acls

pytestmark = pytest.mark.integration

TOPIC = "mtls-orders"
RULES = r"RULE:^CN=([^,]+),OU=([^,]+),O=brook$/$1@$2/L,DEFAULT"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("mtls-pki"))


@pytest.fixture(scope="module")
def broker(pki, tmp_path_factory):
    overrides = authorizer_overrides(
        **{
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,MTLS://127.0.0.1:0",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,MTLS:SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca),
            "listener.name.mtls.ssl.client.auth": "required",
            "listener.name.mtls.ssl.principal.mapping.rules": RULES,
        }
    )
    with BrookProcess(tmp_path_factory.mktemp("mtls"), overrides=overrides) as process:
        admin = AdminClient(client_conf(process.listener_bootstrap("SASL_PLAINTEXT"), "admin"))
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(timeout=30)
        create_acls(admin, [acl(ResourceType.TOPIC, TOPIC, "User:writer@payments", AclOperation.WRITE)])
        yield process


@pytest.fixture(autouse=True)
def _report(broker):
    report_on_failure(broker)


def _produce(broker: BrookProcess, pki: TestPki, name: str) -> confluent_kafka.KafkaError | None:
    """Produce one record with a certificate for CN=<name>,OU=Payments; the delivery error (None: written)."""
    issued = pki.issue(name, unit="Payments")
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": broker.listener_bootstrap("MTLS"),
            "security.protocol": "SSL",
            "ssl.ca.location": str(pki.ca),
            "ssl.certificate.location": str(issued.cert),
            "ssl.key.location": str(issued.key),
            "message.timeout.ms": "10000",
        }
    )
    results: list[confluent_kafka.KafkaError | None] = []
    producer.produce(TOPIC, uuid.uuid4().bytes, on_delivery=lambda e, m: results.append(e))
    producer.flush(20)
    assert len(results) == 1
    return results[0]


def test_the_mapped_certificate_name_is_the_principal_acls_name(broker, pki):
    # CN=Writer,OU=Payments,O=brook -> User:writer@payments, the only principal with an ACL on the topic
    assert _produce(broker, pki, "Writer") is None


def test_another_certificate_maps_to_a_principal_without_acls(broker, pki):
    error = _produce(broker, pki, "Reader")  # User:reader@payments: no ACL on the topic
    assert error is not None
    assert error.code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED, error
