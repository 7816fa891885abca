"""pytest plugin (entry point `brook`): a `kafka_broker` fixture running a real brook process, a
`secured_kafka_broker` with SSL and SASL listeners and users (brook.testing.security.SecuredBroker), and a
`zookeeper` fixture running a real ZooKeeper (Debian's `zookeeper` package).

def test_roundtrip(kafka_broker):
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})

def test_on_zookeeper(zookeeper):          # "127.0.0.1:<port>/<chroot of this test>"
    with BrookProcess(overrides={"zookeeper.connect": zookeeper}) as broker: ...
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from brook.testing.broker_process import BrookProcess
from brook.testing.zookeeper import ZooKeeperNotInstalled, ZooKeeperProcess

if TYPE_CHECKING:  # imported when used: cryptography at plugin load upsets hypothesis's start-up check
    from brook.testing.security import SecuredBroker

_chroots = itertools.count()


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[BrookProcess]:
    """A brook broker on a free port with a temporary data dir, stopped after the test."""
    broker = BrookProcess(data_dir=tmp_path / "brook-data")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def secured_kafka_broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """A brook with SSL, SASL_PLAINTEXT and SASL_SSL listeners, a CA and certificates, a PLAIN and a SCRAM
    user; `.client_config("SASL_SSL", "SCRAM-SHA-256")` is what a librdkafka client needs."""
    from brook.testing.security import SecuredBroker

    with SecuredBroker(tmp_path / "secured") as secured:
        yield secured


@pytest.fixture(scope="session")
def zookeeper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperProcess]:
    """One standalone ZooKeeper for the test session: a free 127.0.0.1 port, a temporary data dir."""
    server = ZooKeeperProcess(data_dir=tmp_path_factory.mktemp("zookeeper"))
    try:
        server.start()
    except ZooKeeperNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def zookeeper(zookeeper_server: ZooKeeperProcess) -> str:
    """A `zookeeper.connect` string with a chroot of its own, so each test starts from an empty tree."""
    return f"{zookeeper_server.connect}/brook-test-{next(_chroots)}"
