"""The console served from a secured broker (SASL_SSL, ACLs): it authenticates as the broker's inter-broker
client by default, or with its own `brook.console.` client settings, and shows what that principal may see."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AclOperation, AdminClient, NewTopic, ResourceType
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from brook.testing.broker_process import BrookProcess
from brook.testing.security import TestPki, plain_jaas
from tests.console.conftest import ConsoleProcess, console_url, live_attr, live_text, wait_until
from tests.integration.acl_helpers import AUTHORIZER, USERS, acl, create_acls

pytestmark = pytest.mark.integration


def _secured_overrides(pki: TestPki, **extra: str) -> dict[str, str]:
    """PLAINTEXT first (User:ANONYMOUS, no ACLs: it sees nothing) and SASL_SSL, the inter-broker listener,
    where the broker itself is User:admin, a super user."""
    return {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.jaas.config": plain_jaas(USERS, username="admin", password=USERS["admin"]),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
        "brook.console.port": "0",
        "num.partitions": "1",
        **extra,
    }


def _client(broker: BrookProcess, pki: TestPki, user: str = "admin") -> dict[str, Any]:
    return {
        "bootstrap.servers": broker.listener_bootstrap("SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(pki.ca),
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": USERS[user],
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("console-pki"))


def _start(directory: Path, overrides: dict[str, str]) -> BrookProcess:
    process = BrookProcess(data_dir=directory, startup_timeout_s=60.0, overrides=overrides)
    process.start()
    return process


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Iterator[BrookProcess]:
    process = _start(tmp_path_factory.mktemp("console-secured"), _secured_overrides(pki))
    try:
        yield process
    finally:
        process.stop()


def test_console_in_a_secured_broker_uses_the_inter_broker_credentials(browser, secured, pki):
    url = console_url(lambda: list(secured.output))
    admin = AdminClient(_client(secured, pki))
    admin.create_topics([NewTopic("vault", 1, 1)])["vault"].result(30)
    producer = Producer({**_client(secured, pki), "acks": "all", "linger.ms": 0})
    for i in range(5):
        producer.produce("vault", key=f"key-{i}".encode(), value=f"secret {i}".encode())
    assert producer.flush(30) == 0

    # the topic, its messages and its size on disk (DescribeLogDirs over SASL_SSL as admin)
    browser.get(url + "/topics")
    wait_until(
        lambda: live_text(browser, "tr[data-topic='vault'] td.messages") == "5", 30, "vault's 5 messages"
    )
    wait_until(
        lambda: int(live_attr(browser, "tr[data-topic='vault'] td.size", "data-value")) > 0,
        30,
        "vault's size on disk",
    )
    browser.get(url + "/")
    assert "up" in live_text(browser, "#brokers tr[data-broker='0']")
    log_dir = live_text(browser, "#log-dirs tbody tr")
    assert str(secured.data_dir) in log_dir
    assert "ok" in log_dir

    # the message browser reads as admin, over SASL_SSL
    browser.get(url + "/topics/vault")
    Select(browser.find_element(By.ID, "browse-mode")).select_by_value("offset")
    browser.find_element(By.ID, "browse-offset").clear()
    browser.find_element(By.ID, "browse-offset").send_keys("0")
    browser.find_element(By.ID, "browse-key").send_keys("key-3")
    browser.find_element(By.ID, "browse-submit").click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#records tbody tr"), 30, "browse results")
    rows = browser.find_elements(By.CSS_SELECTOR, "#records tbody tr[data-offset]")
    assert [r.get_attribute("data-offset") for r in rows] == ["3"]
    assert live_text(browser, "#records td.value pre") == "secret 3"

    # and the produce form writes as admin
    browser.find_element(By.ID, "produce-key").send_keys("from-ui")
    browser.find_element(By.ID, "produce-value").send_keys("written over SASL_SSL")
    browser.find_element(By.ID, "produce-submit").click()
    wait_until(lambda: "at offset 5" in live_text(browser, "#notice"), 30, "the produce notice")
    consumer = Consumer({**_client(secured, pki), "group.id": "check-secured"})
    try:
        consumer.assign([TopicPartition("vault", 0, 5)])
        msg = wait_until(lambda: consumer.poll(1.0), 30, "the record produced from the console")
        assert msg.error() is None
        assert (msg.key(), msg.value()) == (b"from-ui", b"written over SASL_SSL")
    finally:
        consumer.close()


def test_console_with_its_own_principal_sees_what_its_acls_allow(browser, tmp_path, pki):
    overrides = _secured_overrides(
        pki,
        **{
            "brook.console.listener.name": "SASL_SSL",
            "brook.console.sasl.mechanism": "PLAIN",
            "brook.console.sasl.jaas.config": plain_jaas({}, username="alice", password=USERS["alice"]),
        },
    )
    broker = _start(tmp_path / "data", overrides)
    try:
        url = console_url(lambda: list(broker.output))
        admin = AdminClient(_client(broker, pki))
        for name in ("allowed", "hidden"):
            admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
        browser.get(url + "/topics")
        wait_until(lambda: browser.find_elements(By.ID, "topics-table"), 30, "the topics table")
        # alice may describe nothing yet: no topic is listed
        assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-topic='allowed']")
        create_acls(admin, [acl(ResourceType.TOPIC, "allowed", "User:alice", AclOperation.DESCRIBE)])
        wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, "tr[data-topic='allowed']"),
            30,
            "the allowed topic",
        )
        assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-topic='hidden']")
    finally:
        broker.stop()


def test_brook_console_takes_sasl_ssl_client_properties(browser, secured, pki):
    """`brook console -X ...` against the same broker, as the admin user over SASL_SSL: its pages, and the
    sizes its own DescribeLogDirs socket reads with the same properties."""
    admin = AdminClient(_client(secured, pki))
    admin.create_topics([NewTopic("outside", 2, 1)])["outside"].result(30)
    producer = Producer({**_client(secured, pki), "linger.ms": 0})
    producer.produce("outside", value=b"v" * 500, partition=1)
    assert producer.flush(30) == 0
    options = [
        "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={pki.ca}",
        "-X", "sasl.mechanism=PLAIN", "-X", "sasl.username=admin", "-X", f"sasl.password={USERS['admin']}",
    ]  # fmt: skip
    console = ConsoleProcess(secured.listener_bootstrap("SASL_SSL"), *options)
    try:
        browser.get(console.url + "/topics")
        wait_until(
            lambda: live_text(browser, "tr[data-topic='outside'] td.messages") == "1", 30, "outside's record"
        )
        wait_until(
            lambda: int(live_attr(browser, "tr[data-topic='outside'] td.size", "data-value")) > 500,
            30,
            "outside's size on disk",
        )
        browser.get(console.url + "/")
        assert "ok" in live_text(browser, "#log-dirs tbody tr")
    finally:
        console.stop()


def test_wrong_credentials_show_the_authentication_error(secured, pki):
    options = [
        "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={pki.ca}", "-X", "sasl.mechanism=PLAIN",
        "-X", "sasl.username=admin", "-X", "sasl.password=not-the-password", "--timeout", "3", "--interval", "1",
    ]  # fmt: skip
    console = ConsoleProcess(secured.listener_bootstrap("SASL_SSL"), *options)
    try:

        def overview() -> str:
            with urllib.request.urlopen(console.url + "/", timeout=30) as response:
                return str(response.read().decode())

        body = wait_until(lambda: "cluster-error" in (page := overview()) and page, 60, "the error shown")
        assert "SASL authentication error: Authentication failed: Invalid username or password" in body
    finally:
        console.stop()
