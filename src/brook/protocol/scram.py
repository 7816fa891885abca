"""SCRAM-SHA-256/512 (RFC 5802, RFC 7677), sans-IO: the server and client exchanges and the stored credential.

Written with hashlib/hmac (no SCRAM library is among brook's dependencies). Credentials are stored salted, as
Kafka stores them (ZooKeeper `/config/users/<user>`):
`salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=<n>` where
salted = PBKDF2(password, salt, iterations), stored_key = H(HMAC(salted, "Client Key")),
server_key = HMAC(salted, "Server Key").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from brook.protocol.sasl import SaslFailure

__all__ = [
    "SCRAM_MECHANISMS",
    "ScramClient",
    "ScramCredential",
    "ScramServer",
    "check_iterations",
    "salted_password",
]

# mechanism name -> (hashlib name, Kafka's ScramMechanism type in APIs 50/51, minimum iterations)
SCRAM_MECHANISMS = {"SCRAM-SHA-256": ("sha256", 1, 4096), "SCRAM-SHA-512": ("sha512", 2, 4096)}
_MAX_ITERATIONS = 16384  # Kafka's ScramMechanism maximum


@dataclass(frozen=True, slots=True)
class ScramCredential:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    @classmethod
    def from_salted_password(
        cls, mechanism: str, salt: bytes, salted: bytes, iterations: int
    ) -> ScramCredential:
        digest = SCRAM_MECHANISMS[mechanism][0]
        client_key = hmac.digest(salted, b"Client Key", digest)
        stored_key = hashlib.new(digest, client_key).digest()
        return cls(salt, stored_key, hmac.digest(salted, b"Server Key", digest), iterations)

    @classmethod
    def from_password(
        cls, mechanism: str, password: str, iterations: int = 4096, salt: bytes | None = None
    ) -> ScramCredential:
        salt = salt if salt is not None else os.urandom(32)
        return cls.from_salted_password(
            mechanism, salt, salted_password(mechanism, password, salt, iterations), iterations
        )

    def to_kafka(self) -> str:
        """Kafka's persisted form (ScramCredentialUtils.credentialToString)."""
        b64 = base64.b64encode
        return (
            f"salt={b64(self.salt).decode()},stored_key={b64(self.stored_key).decode()},"
            f"server_key={b64(self.server_key).decode()},iterations={self.iterations}"
        )

    @classmethod
    def from_kafka(cls, text: str) -> ScramCredential:
        fields = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
        return cls(
            base64.b64decode(fields["salt"]),
            base64.b64decode(fields["stored_key"]),
            base64.b64decode(fields["server_key"]),
            int(fields["iterations"]),
        )


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(SCRAM_MECHANISMS[mechanism][0], password.encode(), salt, iterations)


def check_iterations(mechanism: str, iterations: int) -> str | None:
    minimum = SCRAM_MECHANISMS[mechanism][2]
    if iterations < minimum:
        return f"Too few iterations: {iterations} (at least {minimum} for {mechanism})"
    if iterations > _MAX_ITERATIONS:
        return f"Too many iterations: {iterations} (at most {_MAX_ITERATIONS})"
    return None


def _attributes(message: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise SaslFailure(f"Invalid SCRAM message attribute {key!r}")
        attributes.setdefault(key, value)
    return attributes


def _decode_name(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


def _encode_name(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramServer:
    """RFC 5802 server: client-first -> server-first, client-final -> server-final (then complete).

    The caller looks up the credential of the name `client_first` returns and passes it to `server_first`."""

    def __init__(self, mechanism: str) -> None:
        self.mechanism = mechanism
        self._digest = SCRAM_MECHANISMS[mechanism][0]
        self._state = "first"
        self.username: str | None = None  # the claimed name, from the client-first message
        self.credential: ScramCredential | None = None
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._authenticated = False

    @property
    def complete(self) -> bool:
        return self._authenticated

    def client_first(self, token: bytes) -> str:
        """Parse the client-first message; returns the user name whose credential the caller must fetch."""
        if self._state != "first":
            raise SaslFailure("Invalid SCRAM state")
        try:
            message = token.decode()
        except UnicodeDecodeError as exc:
            raise SaslFailure("Invalid SCRAM client-first message") from exc
        gs2, sep, bare = message.partition(",")
        authzid, sep2, bare = bare.partition(",")
        if not sep or not sep2 or gs2 not in ("n", "y"):
            raise SaslFailure("Invalid SCRAM client-first message (channel binding is not supported)")
        attributes = _attributes(bare)
        if "n" not in attributes or "r" not in attributes or not attributes["r"]:
            raise SaslFailure("Invalid SCRAM client-first message")
        username = _decode_name(attributes["n"])
        if authzid and _decode_name(authzid.removeprefix("a=")) != username:
            raise SaslFailure("Authentication failed: authorization id differs from the username")
        self.username = username
        self._client_first_bare = bare
        self._client_nonce = attributes["r"]
        self._state = "credential"
        return username

    def server_first(self, credential: ScramCredential | None) -> bytes:
        """With the looked-up credential, the server-first message. An unknown user (None) or a credential
        with too few iterations fails here, on the client-first message, as Kafka's ScramSaslServer."""
        if self._state != "credential":
            raise SaslFailure("Invalid SCRAM state")
        if credential is None:
            raise SaslFailure("Authentication failed: Invalid user credentials")
        too_few = check_iterations(self.mechanism, credential.iterations)
        if too_few:
            raise SaslFailure(too_few)
        self.credential = credential
        self._nonce = self._client_nonce + secrets.token_hex(16)  # printable, no ',' (as Kafka: [0-9a-z])
        salt = base64.b64encode(credential.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={credential.iterations}"
        self._state = "final"
        return self._server_first.encode()

    def client_final(self, token: bytes) -> bytes:
        if self._state != "final":
            raise SaslFailure("Invalid SCRAM state")
        self._state = "done"
        try:
            message = token.decode()
        except UnicodeDecodeError as exc:
            raise SaslFailure("Invalid SCRAM client-final message") from exc
        without_proof, sep, proof_part = message.rpartition(",p=")
        if not sep:
            raise SaslFailure("Invalid SCRAM client-final message: no proof")
        attributes = _attributes(without_proof)
        # endswith, as Kafka checks: librdkafka before 2.1 sends the client nonce twice
        if not attributes.get("r", "").endswith(self._nonce):
            raise SaslFailure("Invalid SCRAM client-final message: nonce mismatch")
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError as exc:
            raise SaslFailure("Invalid SCRAM client-final message: bad proof") from exc
        credential = self.credential
        if credential is None:
            raise SaslFailure("Authentication failed: Invalid user credentials")
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = hmac.digest(credential.stored_key, auth_message, self._digest)
        if len(proof) != len(signature):
            raise SaslFailure("Authentication failed: Invalid user credentials")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self._digest, client_key).digest(), credential.stored_key):
            raise SaslFailure("Authentication failed: Invalid user credentials")
        self._authenticated = True
        verifier = hmac.digest(credential.server_key, auth_message, self._digest)
        return b"v=" + base64.b64encode(verifier)


class ScramClient:
    """RFC 5802 client (brook's inter-broker connections and tools)."""

    def __init__(self, mechanism: str, username: str, password: str) -> None:
        self._digest = SCRAM_MECHANISMS[mechanism][0]
        self.mechanism = mechanism
        self._password = password
        self._nonce = base64.b64encode(os.urandom(24)).decode().rstrip("=")
        self._first_bare = f"n={_encode_name(username)},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        """The client-final message. A server-first asking for fewer iterations than the mechanism's minimum
        (4096) or more than Kafka's maximum (16384) is refused before any PBKDF2 work, as Kafka's
        ScramSaslClient refuses too few: a server (or someone in between, without TLS) cannot weaken the
        proof or make the client burn CPU on a huge count."""
        try:
            attributes = _attributes(server_first.decode())
            nonce, iterations = attributes["r"], int(attributes["i"])
            salt = base64.b64decode(attributes["s"], validate=True)
        except (KeyError, ValueError) as exc:  # UnicodeDecodeError and binascii.Error are ValueErrors
            raise SaslFailure("Invalid SCRAM server-first message") from exc
        if not nonce.startswith(self._nonce):
            raise SaslFailure("SCRAM server nonce does not extend the client's")
        refused = check_iterations(self.mechanism, iterations)
        if refused is not None:
            raise SaslFailure(f"SCRAM server-first refused: {refused}")
        salted = salted_password(self.mechanism, self._password, salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", self._digest)
        stored_key = hashlib.new(self._digest, client_key).digest()
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self._first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, self._digest)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", self._digest)
        self._server_signature = hmac.digest(server_key, auth_message, self._digest)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        attributes = _attributes(server_final.decode())
        if "e" in attributes:
            raise SaslFailure(f"SCRAM authentication failed: {attributes['e']}")
        if base64.b64decode(attributes.get("v", "")) != self._server_signature:
            raise SaslFailure("SCRAM server signature does not verify")
