"""Which listener and which client settings the console in a broker process uses (cli/serve_console.py)."""

from __future__ import annotations

import re

import pytest

from brook.broker.config import BrokerConfig
from brook.broker.security import build_security
from brook.cli.serve_console import console_client_config, console_metrics
from brook.common.errors import InvalidConfig
from brook.console.snapshot import MetricsEndpoints
from brook.testing.security import TestPki, plain_jaas

PORTS = {"PLAINTEXT": 9092, "SSL": 9093, "SASL_SSL": 9094, "INTERNAL": 9095}


def _client(**props: str) -> tuple[str, dict[str, str]]:
    config = BrokerConfig.from_sources(overrides=props.items())
    listeners, _, inter_broker = build_security(config)
    return console_client_config(config, listeners, inter_broker, PORTS)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pki = TestPki(tmp_path_factory.mktemp("pki"))
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
    }


def test_a_plaintext_broker_gives_the_inter_broker_listener_and_no_credentials():
    assert _client(listeners="PLAINTEXT://0.0.0.0:0") == (
        "127.0.0.1:9092",
        {"security.protocol": "PLAINTEXT"},
    )


def test_by_default_the_console_is_the_inter_broker_client(tls):
    bootstrap, client = _client(
        listeners="PLAINTEXT://127.0.0.1:0,SASL_SSL://localhost:0",
        **{
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.jaas.config": plain_jaas({"admin": "s3cret"}, username="admin", password="s3cret"),
        },
        **tls,
    )
    assert bootstrap == "localhost:9094"
    assert client == {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": tls["ssl.truststore.location"],
        "ssl.endpoint.identification.algorithm": "https",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "admin",
        "sasl.password": "s3cret",
    }


def test_brook_console_prefixed_settings_give_the_console_its_own_principal_and_listener(tls):
    scram_jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="console" password="pa\\"ss";'
    )
    _, client = _client(
        listeners="PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,INTERNAL://127.0.0.1:0",
        **{
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,INTERNAL:SSL",
            "inter.broker.listener.name": "INTERNAL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.internal.ssl.client.auth": "required",
            "brook.console.listener.name": "sasl_ssl",
            "brook.console.sasl.mechanism": "SCRAM-SHA-512",
            "brook.console.sasl.jaas.config": scram_jaas,
            "brook.console.ssl.endpoint.identification.algorithm": "none",
        },
        **tls,
    )
    assert client == {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": tls["ssl.truststore.location"],
        "ssl.endpoint.identification.algorithm": "none",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "console",
        "sasl.password": 'pa"ss',
    }


def test_a_tls_listener_is_reached_by_its_advertised_name_which_its_certificate_holds(tls):
    bootstrap, _ = _client(
        listeners="PLAINTEXT://0.0.0.0:0,SSL://0.0.0.0:0",
        **{"advertised.listeners": "PLAINTEXT://broker1.example:9092,SSL://localhost:9093"},
        **{"brook.console.listener.name": "SSL"},
        **tls,
    )
    assert bootstrap == "localhost:9093"
    plaintext, _ = _client(
        listeners="PLAINTEXT://0.0.0.0:0", **{"advertised.listeners": "PLAINTEXT://broker1.example:9092"}
    )
    assert plaintext == "127.0.0.1:9092"  # no certificate to match: this host's loopback


def test_a_listener_asking_for_client_certificates_gets_the_keystore(tls):
    _, client = _client(
        listeners="SSL://127.0.0.1:0",
        **{"inter.broker.listener.name": "SSL", "ssl.client.auth": "required"},
        **tls,
    )
    pem = tls["ssl.keystore.location"]
    assert client["ssl.certificate.location"] == client["ssl.key.location"] == pem
    assert client["ssl.ca.location"] == tls["ssl.truststore.location"]


def test_what_the_console_cannot_use_is_refused_naming_the_key(tls):
    with pytest.raises(InvalidConfig, match=re.escape("brook.console.listener.name=NOPE")):
        _client(listeners="PLAINTEXT://127.0.0.1:0", **{"brook.console.listener.name": "nope"})
    with pytest.raises(InvalidConfig, match=re.escape("brook.console.ssl.truststore.location")):
        _client(
            listeners="SSL://127.0.0.1:0",
            **{"inter.broker.listener.name": "SSL", **tls, "brook.console.ssl.truststore.type": "PKCS12"},
        )
    with pytest.raises(InvalidConfig, match=re.escape("brook.console.sasl.jaas.config")):
        _client(
            listeners="PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            **{
                "sasl.enabled.mechanisms": "PLAIN",
                "sasl.jaas.config": plain_jaas({"a": "b"}),
                "brook.console.listener.name": "SASL_PLAINTEXT",
            },
        )


def test_the_console_reads_every_brokers_metrics_port_or_its_own():
    def config(**props: str) -> BrokerConfig:
        return BrokerConfig.from_sources(overrides=props.items())

    assert console_metrics(config(), 0) == MetricsEndpoints()  # metrics off
    fixed = config(**{"brook.metrics.port": "9404"})
    assert console_metrics(fixed, 9404) == MetricsEndpoints(port=9404)  # the same port on every broker
    free = config(**{"brook.metrics.port": "0", "brook.metrics.host": "0.0.0.0"})
    assert console_metrics(free, 41234) == MetricsEndpoints(urls=("http://127.0.0.1:41234/metrics",))
