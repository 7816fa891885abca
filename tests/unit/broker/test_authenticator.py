"""The per-connection SASL state (broker/authenticator.py) and JAAS options (broker/security.py)."""

from __future__ import annotations

import pytest

from brook.broker.authenticator import Authenticator
from brook.broker.listeners import Listener
from brook.broker.security import ListenerSecurity, parse_jaas_options
from brook.protocol.sasl import SaslFailure

SECURITY = ListenerSecurity(
    Listener("SASL_PLAINTEXT", "", 0, "SASL_PLAINTEXT"),
    None,
    ("PLAIN", "SCRAM-SHA-256"),
    {"a": "b"},
    (),
    1000,
)
METADATA, API_VERSIONS, HANDSHAKE, AUTHENTICATE = 3, 18, 17, 36


def test_only_the_exchange_runs_before_authentication():
    auth = Authenticator(SECURITY)
    assert auth.refusal(API_VERSIONS, 0) is None
    assert auth.refusal(HANDSHAKE, 0) is None
    assert auth.refusal(METADATA, 0) is not None
    assert auth.refusal(AUTHENTICATE, 0) is not None  # no handshake yet
    assert not auth.handshake("GSSAPI")
    assert auth.handshake("PLAIN")
    assert auth.refusal(AUTHENTICATE, 0) is None
    assert auth.refusal(METADATA, 0) is not None


def test_the_session_expires_and_reauthentication_keeps_the_principal():
    auth = Authenticator(SECURITY)
    auth.handshake("PLAIN")
    assert auth.succeeded("a", now_s=10.0) == 1000
    assert auth.principal == "User:a"
    assert auth.refusal(METADATA, 10.9) is None
    assert auth.refusal(METADATA, 11.1) is not None
    assert auth.refusal(HANDSHAKE, 11.1) is None
    auth.handshake("PLAIN")
    assert auth.refusal(METADATA, 10.5) is None  # requests sent before re-authenticating began
    auth.succeeded("a", now_s=11.2)
    assert auth.refusal(METADATA, 12.0) is None
    auth.handshake("PLAIN")
    with pytest.raises(SaslFailure, match="same principal"):
        auth.succeeded("someone-else", now_s=12.1)


def test_jaas_options():
    jaas = (
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
        'password="a\\"b" user_admin="x" user_alice=plainvalue;'
    )
    assert parse_jaas_options(jaas) == {
        "username": "admin",
        "password": 'a"b',
        "user_admin": "x",
        "user_alice": "plainvalue",
    }


def test_tls_principal_maps_the_certificate_subject():
    from dataclasses import replace

    from brook.broker.authenticator import tls_principal
    from brook.broker.principal_mapping import parse_rules

    security = replace(SECURITY, principal_rules=parse_rules(r"RULE:^CN=([^,]*),OU=apps.*$/$1/L"))
    refused: list[str] = []
    assert tls_principal(security, None, refused.append) == "User:ANONYMOUS"
    assert tls_principal(security, "CN=Billing,OU=apps,O=corp", refused.append) == "User:billing"
    assert tls_principal(security, "CN=x,OU=people", refused.append) is None
    assert refused == ["no ssl.principal.mapping.rules rule matches CN=x,OU=people"]
