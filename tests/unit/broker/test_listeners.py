"""Listener parsing (broker/listeners.py) and the registration layout (metadata/zookeeper/layout.py)."""

from __future__ import annotations

import json

import pytest

from brook.broker.listeners import Listener, listener_settings, parse_listeners, parse_protocol_map
from brook.common.errors import InvalidConfig
from brook.metadata.api import BrokerInfo, Endpoint
from brook.metadata.zookeeper.layout import parse_broker, registration_doc

DEFAULT_MAP = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"


def settings(**values: str):
    base = {
        "listeners": "PLAINTEXT://:9092",
        "advertised.listeners": "",
        "listener.security.protocol.map": DEFAULT_MAP,
        "inter.broker.listener.name": "",
        "security.inter.broker.protocol": "PLAINTEXT",
    }
    explicit = ("security.inter.broker.protocol",) if "security_inter" in values else ()
    base |= {k.replace("_", "."): v for k, v in values.items() if k != "security_inter"}
    if "security_inter" in values:
        base["security.inter.broker.protocol"] = values["security_inter"]
    return listener_settings(base, explicit)


def test_named_listeners_take_their_protocol_from_the_map():
    result = settings(
        listeners="CLIENT://0.0.0.0:9093,internal://[::1]:9094",
        listener_security_protocol_map="CLIENT:SASL_SSL,INTERNAL:SSL",
        inter_broker_listener_name="internal",
    )
    assert result.listeners == (
        Listener("CLIENT", "0.0.0.0", 9093, "SASL_SSL"),
        Listener("INTERNAL", "::1", 9094, "SSL"),
    )
    assert result.advertised == result.listeners
    assert result.inter_broker == "INTERNAL"
    assert result.listeners[0].uses_tls
    assert result.listeners[0].uses_sasl


def test_advertised_listeners_must_name_bound_listeners_and_may_leave_some_out():
    result = settings(
        listeners="PLAINTEXT://:9092,SSL://:9093", advertised_listeners="PLAINTEXT://broker1.example:19092"
    )
    assert result.advertised == (Listener("PLAINTEXT", "broker1.example", 19092, "PLAINTEXT"),)
    with pytest.raises(InvalidConfig, match="SSL is not among the listeners"):
        settings(listeners="PLAINTEXT://:9092", advertised_listeners="SSL://host:9093")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"listeners": "FOO://:1"}, "no security protocol defined for listener FOO"),
        ({"listeners": "PLAINTEXT://:1,PLAINTEXT://:2"}, "each listener name must appear once"),
        ({"listeners": "PLAINTEXT://:1,SSL://:1"}, "each listener needs its own port"),
        ({"listeners": "PLAINTEXT:/:1"}, "is not NAME://host:port"),
        ({"listeners": "SSL://:1"}, "inter.broker.listener.name must be a listener name"),
        ({"inter_broker_listener_name": "PLAINTEXT", "security_inter": "SSL"}, "Only one of"),
    ],
)
def test_mistakes_are_startup_errors(values, message):
    with pytest.raises(InvalidConfig, match=message):
        settings(**values)


def test_security_inter_broker_protocol_names_the_listener():
    result = settings(listeners="PLAINTEXT://:9092,SSL://:9093", security_inter="SSL")
    assert result.inter_broker == "SSL"


def test_protocol_map_refuses_unknown_protocols_and_repeats():
    assert parse_protocol_map("a:ssl, B:SASL_SSL") == {"A": "SSL", "B": "SASL_SSL"}
    with pytest.raises(InvalidConfig, match="unknown security protocol GSSAPI"):
        parse_protocol_map("A:GSSAPI")
    with pytest.raises(InvalidConfig, match="twice"):
        parse_protocol_map("A:SSL,A:PLAINTEXT")
    with pytest.raises(InvalidConfig, match="NAME:PROTOCOL"):
        parse_protocol_map("A")


def test_port_zero_may_repeat():
    assert len(parse_listeners("A://:0,B://:0", {"A": "SSL", "B": "SSL"})) == 2


def test_registration_holds_every_endpoint_in_kafkas_layout_and_parses_back():
    endpoints = (
        Endpoint("CLIENT", "10.0.0.1", 9093, "SASL_SSL"),
        Endpoint("INTERNAL", "::1", 9094, "SSL"),
    )
    broker = BrokerInfo(3, "::1", 9094, "r1", endpoints)
    doc = registration_doc(broker, 1000)
    assert doc["endpoints"] == ["CLIENT://10.0.0.1:9093", "INTERNAL://[::1]:9094"]
    assert doc["listener_security_protocol_map"] == {"CLIENT": "SASL_SSL", "INTERNAL": "SSL"}
    assert (doc["host"], doc["port"]) == (None, -1)  # no PLAINTEXT endpoint
    parsed = parse_broker(3, json.dumps(doc).encode(), "INTERNAL")
    assert parsed == broker
    assert parsed is not None
    assert parsed.address_for("CLIENT") == ("10.0.0.1", 9093)
    assert parsed.address_for("OTHER") is None


def test_a_plaintext_only_registration_parses_to_the_short_form():
    doc = registration_doc(BrokerInfo(1, "h", 9092), 0)
    assert doc["endpoints"] == ["PLAINTEXT://h:9092"]
    assert (doc["host"], doc["port"]) == ("h", 9092)
    parsed = parse_broker(1, json.dumps(doc).encode())
    assert parsed == BrokerInfo(1, "h", 9092)
    assert parsed.address_for("PLAINTEXT") == ("h", 9092)
