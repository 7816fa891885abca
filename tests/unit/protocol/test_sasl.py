"""SASL mechanisms (protocol/sasl.py): RFC 7677's SCRAM-SHA-256 example, both roles, PLAIN, Kafka's format."""

from __future__ import annotations

import base64

import pytest

from brook.protocol.sasl import PlainServer, SaslFailure, plain_token
from brook.protocol.scram import ScramClient, ScramCredential, ScramServer


def test_rfc7677_example_exchange():
    """RFC 7677 section 3: user "user", password "pencil", 4096 iterations."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    credential = ScramCredential.from_password("SCRAM-SHA-256", "pencil", 4096, salt)
    server = ScramServer("SCRAM-SHA-256")
    assert server.client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == "user"
    server.server_first(credential)
    server._nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"  # the RFC's server nonce
    server._server_first = f"r={server._nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    final = (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert server.client_final(final) == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert server.complete


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_client_and_server_agree_and_a_wrong_password_fails(mechanism):
    credential = ScramCredential.from_password(mechanism, "secret")
    for password, ok in (("secret", True), ("wrong", False)):
        client, server = ScramClient(mechanism, "u,=x", password), ScramServer(mechanism)
        assert server.client_first(client.first()) == "u,=x"
        final = client.final(server.server_first(credential))
        if ok:
            client.verify(server.client_final(final))
        else:
            with pytest.raises(SaslFailure, match="Invalid user credentials"):
                server.client_final(final)


def test_an_unknown_user_fails_on_the_client_first_message():
    client, server = ScramClient("SCRAM-SHA-256", "ghost", "pw"), ScramServer("SCRAM-SHA-256")
    assert server.client_first(client.first()) == "ghost"
    with pytest.raises(SaslFailure, match="Invalid user credentials"):
        server.server_first(None)  # as Kafka's ScramSaslServer: no server-first for an unknown user
    with pytest.raises(SaslFailure, match="Invalid SCRAM state"):
        server.client_final(b"c=biws,r=x,p=AAAA")  # and the exchange cannot go on


def test_a_credential_with_too_few_iterations_is_refused():
    client, server = ScramClient("SCRAM-SHA-512", "u", "pw"), ScramServer("SCRAM-SHA-512")
    server.client_first(client.first())
    with pytest.raises(SaslFailure, match="Too few iterations"):
        server.server_first(ScramCredential.from_password("SCRAM-SHA-512", "pw", 1024))


@pytest.mark.parametrize("iterations", [4095, 1, 16385, 10**9])
def test_the_client_refuses_an_iteration_count_outside_kafkas_limits(iterations):
    """A server-first message asking for fewer than 4096 or more than 16384 iterations is refused before the
    client runs PBKDF2 (10**9 iterations would take minutes)."""
    client = ScramClient("SCRAM-SHA-256", "u", "pw")
    nonce = client.first().decode().rsplit("r=", 1)[1] + "server"
    with pytest.raises(
        SaslFailure, match="Too few iterations" if iterations < 4096 else "Too many iterations"
    ):
        client.final(f"r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i={iterations}".encode())


@pytest.mark.parametrize("iterations", [4096, 16384])
def test_the_client_accepts_the_limits_themselves(iterations):
    credential = ScramCredential.from_password("SCRAM-SHA-256", "pw", iterations)
    client, server = ScramClient("SCRAM-SHA-256", "u", "pw"), ScramServer("SCRAM-SHA-256")
    server.client_first(client.first())
    client.verify(server.client_final(client.final(server.server_first(credential))))
    assert server.complete


@pytest.mark.parametrize("message", [b"r=x,s=AAAA", b"r=x,s=AAAA,i=many", b"r=x,s=!!,i=4096", b"\xff"])
def test_the_client_refuses_a_malformed_server_first(message):
    client = ScramClient("SCRAM-SHA-512", "u", "pw")
    with pytest.raises(SaslFailure, match="Invalid SCRAM server-first message"):
        client.final(message.replace(b"r=x", b"r=" + client.first().split(b"r=", 1)[1]))


def test_credentials_round_trip_kafkas_text_form():
    credential = ScramCredential.from_password("SCRAM-SHA-512", "pw", 8192)
    text = credential.to_kafka()
    assert text.startswith("salt=")
    assert text.endswith(",iterations=8192")
    assert ScramCredential.from_kafka(text) == credential


def test_plain_checks_user_and_password():
    server = PlainServer({"alice": "secret"})
    assert server.respond(plain_token("alice", "secret")) == b""
    assert server.username == "alice"
    for token in (
        plain_token("alice", "nope"),
        plain_token("bob", "secret"),
        b"alice\x00secret",
        b"x\x00alice\x00secret",
    ):
        with pytest.raises(SaslFailure):
            PlainServer({"alice": "secret"}).respond(token)
