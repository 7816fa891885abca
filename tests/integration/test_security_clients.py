"""Every client over SSL, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512: produce,
consume in a group, commit. One broker for the module, with a listener per security protocol (and one
requiring client certificates), certificates from brook.testing.security."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import confluent_kafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition

from brook.testing.broker_process import BrookProcess, report_on_failure
from brook.testing.security import TestPki, add_scram_user, secured_listeners

CLIENTS = Path(__file__).parents[1] / "clients"
PLAIN_USERS = {"alice": "alice-secret"}
SCRAM_USER, SCRAM_PASSWORD = "bob", "bob-secret"

# (listener, mechanism or None)
CASES = [
    ("SSL", None),
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_SSL", "PLAIN"),
    ("SASL_SSL", "SCRAM-SHA-256"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]
IDS = [f"{lst}-{mech}" if mech else lst for lst, mech in CASES]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki):
    overrides = secured_listeners(pki, plain_users=PLAIN_USERS)
    overrides["listeners"] += ",MTLS://127.0.0.1:0"
    overrides["listener.security.protocol.map"] = (
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL"
    )
    overrides["listener.name.mtls.ssl.client.auth"] = "required"
    with BrookProcess(overrides=overrides) as broker:
        add_scram_user(broker.bootstrap, SCRAM_USER, SCRAM_PASSWORD)
        yield broker


@pytest.fixture(autouse=True)
def _report(secured):
    report_on_failure(secured)


def _credentials(mechanism: str | None) -> tuple[str, str]:
    return PLAIN_USERS.copy().popitem() if mechanism == "PLAIN" else (SCRAM_USER, SCRAM_PASSWORD)


def _librdkafka(pki: TestPki, listener: str, mechanism: str | None, **extra: str) -> dict[str, str]:
    conf = {"security.protocol": "SSL" if listener == "MTLS" else listener, **extra}
    if "SSL" in listener or listener == "MTLS":
        conf["ssl.ca.location"] = str(pki.ca)
    if mechanism:
        user, password = _credentials(mechanism)
        conf |= {"sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}
    return conf


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(("listener", "mechanism"), CASES, ids=IDS)
def test_confluent_kafka_produce_consume_commit(secured, pki, listener, mechanism):
    topic = _topic("ck")
    conf = {
        "bootstrap.servers": secured.listener_bootstrap(listener),
        **_librdkafka(pki, listener, mechanism),
    }
    producer = confluent_kafka.Producer(conf)
    acked = []
    for i in range(10):
        producer.produce(
            topic, key=f"k{i}", value=f"v{i}", on_delivery=lambda e, m: acked.append((e, m.offset()))
        )
    assert producer.flush(30) == 0
    assert [e for e, _ in acked] == [None] * 10
    assert [o for _, o in acked] == list(range(10))
    consumer = confluent_kafka.Consumer(
        {**conf, "group.id": f"{topic}-g", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 60
    while len(values) < 10 and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            values.append(message.value().decode())
    consumer.commit(asynchronous=False)
    committed = consumer.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=30)
    consumer.close()
    assert values == [f"v{i}" for i in range(10)]
    assert committed[0].offset == 10


@pytest.mark.parametrize(("listener", "mechanism"), CASES, ids=IDS)
def test_kafka_python_produce_consume_commit(secured, pki, listener, mechanism):
    topic = _topic("kp")
    conf: dict[str, object] = {
        "bootstrap_servers": secured.listener_bootstrap(listener),
        "security_protocol": listener,
    }
    if "SSL" in listener:
        conf["ssl_cafile"] = str(pki.ca)
    if mechanism:
        user, password = _credentials(mechanism)
        conf |= {"sasl_mechanism": mechanism, "sasl_plain_username": user, "sasl_plain_password": password}
    producer = KafkaProducer(**conf)
    offsets = [producer.send(topic, f"v{i}".encode()).get(timeout=30).offset for i in range(10)]
    producer.close()
    assert offsets == list(range(10))
    consumer = KafkaConsumer(
        topic, group_id=f"{topic}-g", auto_offset_reset="earliest", enable_auto_commit=False, **conf
    )
    values: list[str] = []
    deadline = time.monotonic() + 60
    while len(values) < 10 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            values.extend(r.value.decode() for r in records)
    consumer.commit()
    committed = consumer.committed(KTopicPartition(topic, 0))
    consumer.close()
    assert values == [f"v{i}" for i in range(10)]
    assert committed == 10


@pytest.mark.parametrize(("listener", "mechanism"), CASES, ids=IDS)
def test_aiokafka_produce_consume_commit(secured, pki, listener, mechanism):
    topic = _topic("ak")

    async def run() -> tuple[list[int], list[str], int | None]:
        conf: dict[str, object] = {
            "bootstrap_servers": secured.listener_bootstrap(listener),
            "security_protocol": listener,
        }
        if "SSL" in listener:
            conf["ssl_context"] = create_ssl_context(cafile=str(pki.ca))
        if mechanism:
            user, password = _credentials(mechanism)
            conf |= {
                "sasl_mechanism": mechanism,
                "sasl_plain_username": user,
                "sasl_plain_password": password,
            }
        producer = AIOKafkaProducer(**conf)
        await producer.start()
        try:
            offsets = [(await producer.send_and_wait(topic, f"v{i}".encode())).offset for i in range(10)]
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, group_id=f"{topic}-g", auto_offset_reset="earliest", enable_auto_commit=False, **conf
        )
        await consumer.start()
        try:
            values: list[str] = []
            async with asyncio.timeout(60):
                while len(values) < 10:
                    for records in (await consumer.getmany(timeout_ms=1000)).values():
                        values.extend(r.value.decode() for r in records)
            await consumer.commit()
            from aiokafka import TopicPartition as ATopicPartition

            committed = await consumer.committed(ATopicPartition(topic, 0))
        finally:
            await consumer.stop()
        return offsets, values, committed

    offsets, values, committed = asyncio.run(run())
    assert offsets == list(range(10))
    assert values == [f"v{i}" for i in range(10)]
    assert committed == 10


@pytest.mark.parametrize(("listener", "mechanism"), CASES, ids=IDS)
def test_kafkajs_produce_consume_commit(secured, pki, listener, mechanism):
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules" / "kafkajs").exists():
        pytest.fail("node and kafkajs are needed: `make test` installs kafkajs into tests/clients")
    topic = _topic("kjs")
    options: dict[str, object] = {"ca": str(pki.ca) if "SSL" in listener else None, "sasl": None}
    if mechanism:
        user, password = _credentials(mechanism)
        options["sasl"] = {"mechanism": mechanism.lower(), "username": user, "password": password}
    result = subprocess.run(
        [
            node,
            str(CLIENTS / "kafkajs_secure.js"),
            secured.listener_bootstrap(listener),
            topic,
            json.dumps(options),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(report["received"]) == sorted(f"v{i}" for i in range(10))
    assert sum(int(p["offset"]) for p in report["committed"]) == 10


@pytest.mark.parametrize(("listener", "mechanism"), CASES, ids=IDS)
def test_kcat_produce_consume_commit(secured, pki, listener, mechanism):
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is not installed: `make test` installs Debian's kcat")
    topic = _topic("kc")
    flags = [f"-X{k}={v}" for k, v in _librdkafka(pki, listener, mechanism).items()]
    bootstrap = secured.listener_bootstrap(listener)
    produced = subprocess.run(
        [kcat, "-b", bootstrap, *flags, "-P", "-t", topic, "-p", "0"],
        input="\n".join(f"v{i}" for i in range(10)) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(
        [
            kcat,
            "-b",
            bootstrap,
            *flags,
            "-G",
            f"{topic}-g",
            "-X",
            "auto.offset.reset=earliest",
            "-e",
            "-f",
            "%s\n",
            topic,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.split() == [f"v{i}" for i in range(10)]
    conf = {"bootstrap.servers": bootstrap, "group.id": f"{topic}-g", **_librdkafka(pki, listener, mechanism)}
    checker = confluent_kafka.Consumer(conf)
    committed = checker.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=30)
    checker.close()
    assert committed[0].offset == 10


# --- refusals ------------------------------------------------------------------------------------


def _produce_error(conf: dict[str, str], topic: str) -> confluent_kafka.KafkaError | None:
    """Produce one record with a short timeout; the error the client ends with (None: delivered)."""
    errors: list[confluent_kafka.KafkaError] = []
    producer = confluent_kafka.Producer(
        {**conf, "message.timeout.ms": "5000", "error_cb": lambda e: errors.append(e)}
    )
    delivered: list[object] = []
    producer.produce(topic, b"x", on_delivery=lambda e, m: delivered.append(e))
    producer.flush(15)
    return errors[0] if errors else delivered[0] if delivered and delivered[0] else None


@pytest.mark.parametrize(
    ("user", "password"),
    [(SCRAM_USER, "wrong"), ("nobody", "whatever")],
    ids=["wrong-password", "unknown-user"],
)
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_bad_credentials_are_refused_and_logged_without_the_password(secured, pki, mechanism, user, password):
    if mechanism == "PLAIN" and user == SCRAM_USER:
        user = "alice"
    conf = {
        "bootstrap.servers": secured.listener_bootstrap("SASL_PLAINTEXT"),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }
    error = _produce_error(conf, _topic("bad"))
    assert error is not None
    assert error.code() == confluent_kafka.KafkaError._AUTHENTICATION, error
    assert secured.wait_for_log(rf"authentication failed .*mechanism={mechanism} user={user}", timeout_s=20)
    assert not any(password in line for line in secured.output if "authentication failed" in line)


def test_mtls_listener_refuses_a_client_without_certificate(secured, pki):
    conf = {"bootstrap.servers": secured.listener_bootstrap("MTLS"), **_librdkafka(pki, "MTLS", None)}
    assert _produce_error(conf, _topic("nocert")) is not None
    assert secured.wait_for_log(r"TLS handshake failed .*PEER_DID_NOT_RETURN_A_CERTIFICATE", timeout_s=20)


def test_mtls_listener_accepts_a_client_certificate_and_refuses_an_expired_one(secured, pki):
    conf = {
        "bootstrap.servers": secured.listener_bootstrap("MTLS"),
        **_librdkafka(pki, "MTLS", None),
        "ssl.certificate.location": str(pki.client.cert),
        "ssl.key.location": str(pki.client.key),
    }
    assert _produce_error(conf, _topic("cert")) is None
    expired = pki.issue("old-client", expired=True)
    conf |= {"ssl.certificate.location": str(expired.cert), "ssl.key.location": str(expired.key)}
    assert _produce_error(conf, _topic("expired")) is not None
    assert secured.wait_for_log(r"TLS handshake failed .*certificate has expired", timeout_s=20)


def test_client_without_tls_on_an_ssl_listener_is_refused(secured, pki):
    conf = {"bootstrap.servers": secured.listener_bootstrap("SSL"), "security.protocol": "PLAINTEXT"}
    assert _produce_error(conf, _topic("plain-on-ssl")) is not None


def test_the_secured_kafka_broker_fixture_serves_every_listener(secured_kafka_broker):
    for listener, mechanism in [("PLAINTEXT", None), ("SSL", None), ("SASL_SSL", "SCRAM-SHA-512")]:
        config = secured_kafka_broker.client_config(listener, mechanism)
        metadata = confluent_kafka.admin.AdminClient(config).list_topics(timeout=30)
        assert [b.port for b in metadata.brokers.values()] == [
            secured_kafka_broker.broker.listener_ports[listener]
        ]
