"""The SASL exchange on the wire (raw frames): what may come before authentication, SaslHandshake v0's bare
tokens, failures, re-authentication (KIP-368), per-listener Metadata addresses, SCRAM credential APIs (50/51),
and the startup errors of a wrong security configuration."""

from __future__ import annotations

import struct
import subprocess
import sys
import time

import pytest
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from brook.protocol.sasl import plain_token
from brook.protocol.scram import ScramClient
from brook.testing.broker_process import BrookProcess, report_on_failure
from brook.testing.security import add_scram_user, plain_jaas
from tests.integration.raw_client import RawClient

REAUTH_MS = 1500
METADATA_ALL = {"topics": None, "allow_auto_topic_creation": False}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    overrides = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,REAUTH://127.0.0.1:0",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,REAUTH:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "sasl.jaas.config": plain_jaas({"alice": "alice-secret"}),
        "listener.name.reauth.connections.max.reauth.ms": str(REAUTH_MS),
    }
    with BrookProcess(overrides=overrides) as process:
        add_scram_user(process.bootstrap, "bob", "bob-secret")
        yield process


@pytest.fixture(autouse=True)
def _report(broker):
    report_on_failure(broker)


def _client(broker, listener="SASL_PLAINTEXT") -> RawClient:
    return RawClient(broker.listener_bootstrap(listener))


def _plain_v1(raw: RawClient, user="alice", password="alice-secret"):
    assert raw.request(17, 1, {"mechanism": "PLAIN"}).error_code == 0
    return raw.request(36, 2, {"auth_bytes": plain_token(user, password)})


def test_a_request_before_authentication_closes_the_connection(broker):
    raw = _client(broker)
    try:
        versions = raw.request(18, 3, {"client_software_name": "t", "client_software_version": "1"})
        assert versions.error_code == 0  # ApiVersions is allowed
        raw.send_raw(raw.frame(3, 12, METADATA_ALL)[1])
        assert raw.is_closed_by_peer()
    finally:
        raw.close()


def test_sasl_authenticate_before_the_handshake_closes_the_connection(broker):
    """Kafka's IllegalSaslStateException during the handshake state: closed without an answer."""
    raw = _client(broker)
    try:
        raw.send_raw(raw.frame(36, 2, {"auth_bytes": plain_token("alice", "alice-secret")})[1])
        assert raw.is_closed_by_peer()
    finally:
        raw.close()


def test_an_unknown_mechanism_lists_the_enabled_ones_then_closes(broker):
    raw = _client(broker)
    try:
        response = raw.request(17, 1, {"mechanism": "GSSAPI"})
        assert response.error_code == 33  # UNSUPPORTED_SASL_MECHANISM
        assert list(response.mechanisms) == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        assert raw.is_closed_by_peer()
    finally:
        raw.close()


def test_wrong_password_is_sasl_authentication_failed_then_closed(broker):
    raw = _client(broker)
    try:
        response = _plain_v1(raw, password="nope")
        assert response.error_code == 58  # SASL_AUTHENTICATION_FAILED
        assert "nope" not in (response.error_message or "")
        assert raw.is_closed_by_peer()
    finally:
        raw.close()


def test_metadata_answers_with_the_listener_the_client_connected_to(broker):
    for listener in ("PLAINTEXT", "SASL_PLAINTEXT"):
        raw = _client(broker, listener)
        try:
            if listener != "PLAINTEXT":
                assert _plain_v1(raw).error_code == 0
            brokers = raw.request(3, 12, METADATA_ALL).brokers
            assert [(b.host, b.port) for b in brokers] == [("127.0.0.1", broker.listener_ports[listener])]
        finally:
            raw.close()


def _raw_token(raw: RawClient, token: bytes) -> bytes:
    raw.send_raw(struct.pack(">i", len(token)) + token)
    return raw.read_frame()


def test_handshake_v0_then_bare_plain_and_scram_tokens(broker):
    raw = _client(broker)
    try:
        assert raw.request(17, 0, {"mechanism": "PLAIN"}).error_code == 0
        assert _raw_token(raw, plain_token("alice", "alice-secret")) == b""
        assert raw.request(3, 12, METADATA_ALL).brokers  # Kafka requests again after authentication
    finally:
        raw.close()
    raw = _client(broker)
    try:
        assert raw.request(17, 0, {"mechanism": "SCRAM-SHA-512"}).error_code == 0
        scram = ScramClient("SCRAM-SHA-512", "bob", "bob-secret")
        server_first = _raw_token(raw, scram.first())
        scram.verify(_raw_token(raw, scram.final(server_first)))  # the server proved it knows the key
        assert raw.request(3, 12, METADATA_ALL).brokers
    finally:
        raw.close()
    raw = _client(broker)
    try:
        assert raw.request(17, 0, {"mechanism": "PLAIN"}).error_code == 0
        raw.send_raw(struct.pack(">i", 15) + plain_token("alice", "wrong-pw"))
        assert raw.is_closed_by_peer()  # v0 has no error response
    finally:
        raw.close()


def test_scram_v1_exchange_and_session_lifetime_without_reauth_limit(broker):
    raw = _client(broker)
    try:
        assert raw.request(17, 1, {"mechanism": "SCRAM-SHA-256"}).error_code == 0
        scram = ScramClient("SCRAM-SHA-256", "bob", "bob-secret")
        first = raw.request(36, 2, {"auth_bytes": scram.first()})
        assert first.error_code == 0
        final = raw.request(36, 2, {"auth_bytes": scram.final(bytes(first.auth_bytes))})
        assert final.error_code == 0
        assert final.session_lifetime.total_seconds() == 0  # connections.max.reauth.ms=0: no limit
        scram.verify(bytes(final.auth_bytes))
    finally:
        raw.close()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_an_unknown_scram_user_fails_on_the_client_first_message(broker, mechanism):
    """As Kafka's ScramSaslServer: no server-first (no salt to probe), SASL_AUTHENTICATION_FAILED with a
    message that does not tell an unknown user from a wrong password, then the connection closes."""
    raw = _client(broker)
    try:
        assert raw.request(17, 1, {"mechanism": mechanism}).error_code == 0
        first = raw.request(36, 2, {"auth_bytes": ScramClient(mechanism, "nobody", "x").first()})
        assert first.error_code == 58  # SASL_AUTHENTICATION_FAILED
        assert bytes(first.auth_bytes) == b""
        assert first.error_message == (
            f"Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
        )
        assert raw.is_closed_by_peer()
    finally:
        raw.close()
    assert broker.wait_for_log(rf"authentication failed .*mechanism={mechanism} user=nobody", timeout_s=20)


def test_an_expired_session_is_closed_and_reauthentication_extends_it(broker):
    expiring = _client(broker, "REAUTH")
    renewed = _client(broker, "REAUTH")
    try:
        lifetime = _plain_v1(expiring).session_lifetime.total_seconds() * 1000
        assert lifetime == REAUTH_MS
        assert _plain_v1(renewed).error_code == 0
        started = time.monotonic()
        assert expiring.request(3, 12, METADATA_ALL).brokers  # within the session
        time.sleep(REAUTH_MS / 2000)
        assert _plain_v1(renewed).error_code == 0  # re-authenticated halfway: a new lifetime
        time.sleep(max(0.0, REAUTH_MS / 1000 - (time.monotonic() - started)) + 0.3)
        assert renewed.request(3, 12, METADATA_ALL).brokers
        expiring.send_raw(expiring.frame(3, 12, METADATA_ALL)[1])
        assert expiring.is_closed_by_peer()
        assert _plain_v1(renewed, "alice", "alice-secret").error_code == 0
        bob = _client(broker, "REAUTH")
        try:
            assert _plain_v1(bob).error_code == 0
        finally:
            bob.close()
    finally:
        expiring.close()
        renewed.close()


def test_scram_credentials_are_described_altered_and_deleted(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    add_scram_user(broker.bootstrap, "carol", "carol-secret", ("SCRAM-SHA-256",))
    described = admin.describe_user_scram_credentials(["carol"])["carol"].result(timeout=30)
    assert [(i.mechanism, i.iterations) for i in described.scram_credential_infos] == [
        (ScramMechanism.SCRAM_SHA_256, 4096)
    ]
    everyone = admin.describe_user_scram_credentials().result(timeout=30)
    assert {"bob", "carol"} <= set(everyone)
    with pytest.raises(Exception, match=r"RESOURCE_NOT_FOUND|does not exist"):
        admin.describe_user_scram_credentials(["nobody"])["nobody"].result(timeout=30)
    too_few = UserScramCredentialUpsertion(
        "dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 100), b"pw"
    )
    with pytest.raises(Exception, match=r"UNACCEPTABLE_CREDENTIAL|iterations"):
        admin.alter_user_scram_credentials([too_few])["dave"].result(timeout=30)
    deletion = UserScramCredentialDeletion("carol", ScramMechanism.SCRAM_SHA_256)
    admin.alter_user_scram_credentials([deletion])["carol"].result(timeout=30)
    with pytest.raises(Exception, match=r"RESOURCE_NOT_FOUND|does not exist"):
        admin.describe_user_scram_credentials(["carol"])["carol"].result(timeout=30)
    with pytest.raises(Exception, match=r"RESOURCE_NOT_FOUND|does not exist"):
        admin.alter_user_scram_credentials([deletion])["carol"].result(timeout=30)
    raw = _client(broker)  # a deleted user cannot authenticate any more
    try:
        assert raw.request(17, 1, {"mechanism": "SCRAM-SHA-256"}).error_code == 0
        scram = ScramClient("SCRAM-SHA-256", "carol", "carol-secret")
        assert raw.request(36, 2, {"auth_bytes": scram.first()}).error_code == 58  # now an unknown user
    finally:
        raw.close()


def _serve(tmp_path, *overrides: str) -> subprocess.CompletedProcess[str]:
    args = [arg for override in overrides for arg in ("--override", override)]
    return subprocess.run(
        [sys.executable, "-m", "brook", "serve", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["listeners=FOO://127.0.0.1:0"], "no security protocol defined for listener FOO"),
        (
            ["listeners=PLAINTEXT://127.0.0.1:0", "listener.security.protocol.map=PLAINTEXT:KERBEROS"],
            "unknown security protocol KERBEROS",
        ),
        (["listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"], "an SSL listener needs a keystore"),
        (
            ["listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0", "ssl.keystore.location=/etc/ks.jks"],
            "brook reads PEM and PKCS12 stores",
        ),
        (["listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"], "brook supports PLAIN"),
        (
            ["listeners=SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms=SCRAM-SHA-256"],
            "inter.broker.listener.name must be a listener name defined in advertised.listeners",
        ),
        (
            [
                "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
                "sasl.enabled.mechanisms=PLAIN",
            ],
            "enables PLAIN but no JAAS config names users",
        ),
    ],
    ids=[
        "no-protocol",
        "unknown-protocol",
        "no-keystore",
        "jks",
        "gssapi",
        "no-inter-broker",
        "no-plain-users",
    ],
)
def test_a_wrong_security_configuration_refuses_to_start(tmp_path, overrides, message):
    result = _serve(tmp_path, *overrides)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "d").exists()


def test_librdkafka_reauthenticates_before_its_session_runs_out(broker):
    """KIP-368 with a real client: a producer keeps producing across several session lifetimes on one
    connection, re-authenticating each time; no record fails and the connection is never closed for it."""
    import confluent_kafka

    conf = {
        "bootstrap.servers": broker.listener_bootstrap("REAUTH"),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "bob",
        "sasl.password": "bob-secret",
    }
    before = len(broker.output)  # (this module's broker: earlier tests' lines stay out of the checks)
    producer = confluent_kafka.Producer(conf)
    failures: list[object] = []
    offsets: list[int] = []
    topic = f"reauth-{time.monotonic_ns()}"
    end = time.monotonic() + 3 * REAUTH_MS / 1000
    while time.monotonic() < end:
        producer.produce(
            topic, b"x", on_delivery=lambda e, m: failures.append(e) if e else offsets.append(m.offset())
        )
        producer.poll(0.1)
    assert producer.flush(30) == 0
    assert failures == []
    assert offsets == list(range(len(offsets)))
    lines = list(broker.output)[before:]
    assert not any("SASL session expired" in line for line in lines)
    assert sum("re-authenticated" in line and "principal=User:bob" in line for line in lines) >= 2


def test_describe_configs_hides_passwords_and_jaas(broker):
    from confluent_kafka.admin import ConfigResource, ResourceType

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(ResourceType.BROKER, "0")
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    jaas = entries["sasl.jaas.config"]
    assert jaas.is_sensitive
    assert jaas.value is None
    assert entries["ssl.keystore.password"].is_sensitive
    assert not entries["sasl.enabled.mechanisms"].is_sensitive
    assert entries["sasl.enabled.mechanisms"].value == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"


def test_a_big_frame_before_authentication_closes_the_connection(broker):
    """sasl.server.max.receive.size (512 KiB): an unauthenticated client cannot make the broker buffer more."""
    raw = _client(broker)
    try:
        raw.send_raw(struct.pack(">i", 524289) + b"\x00" * 64)
        assert raw.is_closed_by_peer()
    finally:
        raw.close()
    raw = _client(broker, "PLAINTEXT")
    try:  # the same size is a normal (if incomplete) request on a PLAINTEXT listener
        raw.send_raw(struct.pack(">i", 524289) + b"\x00" * 64)
        assert not raw.is_closed_by_peer(timeout_s=1.0)
    finally:
        raw.close()


def test_user_quotas_apply_to_the_authenticated_principal(broker):
    """A producer_byte_rate set for user alice throttles alice's SASL connection, not an anonymous client."""
    import os

    from brook.testing.batches import make_batch
    from tests.integration.raw_client import produce_body

    admin = _client(broker, "PLAINTEXT")
    try:
        topics = [{"name": "quota-user", "num_partitions": 1, "replication_factor": 1}]
        assert admin.request(19, 5, {"topics": topics, "timeout": 5000}).topics[0].error_code == 0
        entity = [{"entity_type": "user", "entity_name": "alice"}]
        ops = [{"key": "producer_byte_rate", "value": 80_000, "remove": False}]
        assert (
            admin.request(49, 1, {"entries": [{"entity": entity, "ops": ops}], "validate_only": False})
            .entries[0]
            .error_code
            == 0
        )
    finally:
        admin.close()
    time.sleep(1.5)  # brokers re-read quota configs each second
    body = produce_body("quota-user", 0, bytes(make_batch([(b"k", os.urandom(900_000 - 100))])))
    anonymous = RawClient(broker.bootstrap, timeout_s=30)
    alice = RawClient(broker.listener_bootstrap("SASL_PLAINTEXT"), timeout_s=30)
    try:
        assert anonymous.request(0, 9, body).throttle_time.total_seconds() == 0
        assert _plain_v1(alice).error_code == 0
        response = alice.request(0, 9, body)
        assert response.responses[0].partition_responses[0].error_code == 0
        assert 1.0 <= response.throttle_time.total_seconds() <= 1.5  # (90 - 80) / 80 * 10 s window
    finally:
        anonymous.close()
        alice.close()


def test_sasl_requests_on_a_plaintext_listener_are_illegal_sasl_state(broker):
    raw = _client(broker, "PLAINTEXT")
    try:
        assert raw.request(17, 1, {"mechanism": "PLAIN"}).error_code == 34  # ILLEGAL_SASL_STATE
        assert raw.request(36, 2, {"auth_bytes": plain_token("alice", "alice-secret")}).error_code == 34
        assert raw.request(3, 12, METADATA_ALL).brokers  # the connection stays, still anonymous
    finally:
        raw.close()
