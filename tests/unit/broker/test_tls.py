"""TLS contexts from Kafka's ssl.* keys (broker/tls.py), with certificates from brook.testing.security;
each context is checked by a real handshake over a socket pair."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from brook.broker.tls import client_context, peer_certificate_dn, server_context
from brook.common.errors import InvalidConfig
from brook.testing.security import TestPki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("pki"))


def lookup(values):
    return lambda key: values.get(key, "")


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str | None:
    """Both sides of a TLS handshake; the client certificate's DN as the server saw it."""
    a, b = socket.socketpair()
    seen: list[str | None] = []
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(a, server_side=True) as tls:
                seen.append(peer_certificate_dn(tls))
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(b, server_hostname="localhost"):
            pass
    finally:
        thread.join(10)
    if errors:
        raise errors[0]
    return seen[0]


def test_pem_keystore_file_and_truststore(pki):
    server = server_context(
        lookup(
            {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.directory / "broker-keystore.pem")}
        )
    )
    client = client_context(
        lookup(
            {
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(pki.ca),
                "ssl.endpoint.identification.algorithm": "https",
            }
        )
    )
    assert handshake(server, client) is None  # no client certificate asked for


def test_pem_in_config_with_an_encrypted_key_and_required_client_certificates(pki):
    issued = pki.issue("pem-in-config", server=True, key_password="kpw")
    server = server_context(
        lookup(
            {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.certificate.chain": issued.cert.read_text(),
                "ssl.keystore.key": issued.key.read_text(),
                "ssl.key.password": "kpw",
                "ssl.truststore.type": "PEM",
                "ssl.truststore.certificates": pki.ca.read_text(),
                "ssl.client.auth": "required",
            }
        )
    )
    client = client_context(
        lookup(
            {
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(pki.ca),
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(pki.directory / "client-keystore.pem"),
            }
        )
    )
    assert handshake(server, client) == pki.client.dn
    assert pki.client.dn.startswith("CN=client,OU=brook-test,O=brook")
    anonymous = client_context(lookup({"ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca)}))
    with pytest.raises((ssl.SSLError, OSError)):
        handshake(server, anonymous)
    with pytest.raises(InvalidConfig, match="cannot load the keystore"):
        server_context(
            lookup(
                {
                    "ssl.keystore.type": "PEM",
                    "ssl.keystore.certificate.chain": issued.cert.read_text(),
                    "ssl.keystore.key": issued.key.read_text(),
                    "ssl.key.password": "wrong",
                }
            )
        )


def test_pkcs12_keystore_and_truststore(pki):
    p12 = str(pki.directory / "broker.p12")
    server = server_context(
        lookup(
            {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12, "ssl.keystore.password": "changeit"}
        )
    )
    client = client_context(
        lookup(
            {
                "ssl.truststore.type": "PKCS12",
                "ssl.truststore.location": p12,
                "ssl.truststore.password": "changeit",
            }
        )
    )
    assert handshake(server, client) is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ssl.keystore.location": "/x.jks"}, "brook reads PEM and PKCS12 stores"),
        ({}, "needs a keystore"),
        ({"ssl.enabled.protocols": "SSLv3"}, "ssl.enabled.protocols"),
        ({"ssl.cipher.suites": "NOT-A-CIPHER"}, "ssl.cipher.suites"),
        ({"ssl.client.auth": "required"}, "needs a truststore"),
    ],
)
def test_refusals(pki, values, message):
    keystore = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
    }
    if "ssl.keystore.location" in values:
        keystore = {}
    with pytest.raises(InvalidConfig, match=message):
        server_context(lookup({**(keystore if values else {}), **values}))


def test_tls12_only_and_a_cipher_suite(pki):
    server = server_context(
        lookup(
            {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
                "ssl.enabled.protocols": "TLSv1.2",
                "ssl.cipher.suites": "ECDHE-ECDSA-AES128-GCM-SHA256",
            }
        )
    )
    assert server.maximum_version == ssl.TLSVersion.TLSv1_2
    client = client_context(lookup({"ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca)}))
    assert handshake(server, client) is None


def test_small_chunks_are_joined_and_big_ones_pass_uncopied():
    from brook.broker.tls import TLS_RECORD_BYTES, coalesce_for_tls

    big1, big2 = b"a" * TLS_RECORD_BYTES, b"b" * (3 * TLS_RECORD_BYTES)
    chunks = [b"hdr", b"tags", big1, b"x", b"y", big2, b"tail"]
    out = coalesce_for_tls(chunks)
    assert out == [b"hdrtags", big1, b"xy", big2, b"tail"]
    assert out[1] is big1  # the same objects: no copy
    assert out[3] is big2
    assert b"".join(out) == b"".join(chunks)
    assert coalesce_for_tls([]) == []
    assert coalesce_for_tls([b"only"]) == [b"only"]
