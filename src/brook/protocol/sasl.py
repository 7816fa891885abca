"""SASL, sans-IO: the failure every mechanism raises, and PLAIN (RFC 4616). SCRAM is in protocol/scram.py.

Tokens are the bytes SaslAuthenticate carries. A failure is a SaslFailure whose message never holds a
password (it is logged and sent to the client).
"""

from __future__ import annotations

import hmac

__all__ = ["PlainServer", "SaslFailure", "plain_token"]


class SaslFailure(Exception):
    """Authentication failed; the message is safe to log and to send to the client."""


class PlainServer:
    """One PLAIN exchange: `[authzid] NUL authcid NUL passwd` checked against the JAAS users."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = users
        self.claimed: str | None = None  # the name the client gave (for the log)
        self.username: str | None = None  # set once authenticated

    def respond(self, token: bytes) -> bytes:
        parts = token.split(b"\x00")
        if len(parts) != 3:
            raise SaslFailure("Invalid SASL/PLAIN response: expected 3 tokens")
        authzid, user_bytes, password_bytes = parts
        try:
            username, password = user_bytes.decode(), password_bytes.decode()
        except UnicodeDecodeError as exc:
            raise SaslFailure("Invalid SASL/PLAIN response: not UTF-8") from exc
        self.claimed = username
        if not username:
            raise SaslFailure("Authentication failed: username not specified")
        if authzid and authzid.decode(errors="replace") != username:
            raise SaslFailure(
                "Authentication failed: Client requested an authorization id that is different from username"
            )
        expected = self._users.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise SaslFailure("Authentication failed: Invalid username or password")
        self.username = username
        return b""

    @property
    def complete(self) -> bool:
        return self.username is not None


def plain_token(username: str, password: str) -> bytes:
    return b"\x00" + username.encode() + b"\x00" + password.encode()
