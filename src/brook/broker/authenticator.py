"""One connection's authentication on a SASL listener (SASL_PLAINTEXT, SASL_SSL), and the TLS principal.

States, as Kafka's SaslServerAuthenticator: `handshake` (ApiVersions and SaslHandshake only) ->
`authenticate` (SaslAuthenticate only) -> `authenticated` (anything). Any other request before
authentication closes the connection (Kafka's ILLEGAL_SASL_STATE semantics). With
`connections.max.reauth.ms` the session has a lifetime (KIP-368, told in SaslAuthenticate v1+): a client
re-authenticates with SaslHandshake + SaslAuthenticate on the same connection before it runs out; a request
after it ran out closes the connection. The decisions are pure methods on a clock value the caller gives.
"""

from __future__ import annotations

from collections.abc import Callable

from brook.broker.principal_mapping import NoMatchingRule, map_principal_name
from brook.broker.security import ListenerSecurity
from brook.protocol.sasl import PlainServer, SaslFailure
from brook.protocol.scram import ScramServer

__all__ = ["AUTH_KEYS", "Authenticator", "tls_principal"]

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
AUTH_KEYS = frozenset({API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE})


class Authenticator:
    def __init__(self, security: ListenerSecurity) -> None:
        self.security = security
        self.state = "handshake"
        self.mechanism = ""
        self.exchange: PlainServer | ScramServer | None = None
        self.principal: str | None = None  # once authenticated (kept through re-authentication)
        self.expires_at_s: float | None = None

    def refusal(self, api_key: int, now_s: float) -> str | None:
        """Why a request with this key may not be handled now (the connection is closed); None: go on."""
        if self.state == "authenticated":
            if self.expires_at_s is not None and now_s > self.expires_at_s and api_key not in AUTH_KEYS:
                return "the SASL session expired (connections.max.reauth.ms) without re-authentication"
            return None
        if self.state == "handshake" and api_key in (API_VERSIONS, SASL_HANDSHAKE):
            return None
        if self.state in ("authenticate", "reauthenticate") and api_key == SASL_AUTHENTICATE:
            return None
        if self.state == "reauthenticate" and api_key not in AUTH_KEYS:
            return None  # requests already sent before the client began re-authenticating
        return f"unexpected request api_key={api_key} during SASL authentication (state {self.state})"

    def handshake(self, mechanism: str) -> bool:
        """SaslHandshake: start an exchange; False for a mechanism this listener does not enable."""
        if mechanism not in self.security.mechanisms:
            return False
        self.mechanism = mechanism
        self.exchange = (
            PlainServer(self.security.plain_users) if mechanism == "PLAIN" else ScramServer(mechanism)
        )
        self.state = "reauthenticate" if self.state == "authenticated" else "authenticate"
        return True

    @property
    def expecting_authenticate(self) -> bool:
        return self.state in ("authenticate", "reauthenticate") and self.exchange is not None

    def succeeded(self, username: str, now_s: float) -> int:
        """The exchange completed: the principal, and the session lifetime in ms (0: none)."""
        principal = f"User:{username}"
        if self.principal is not None and principal != self.principal:
            raise SaslFailure("Re-authentication must keep the same principal")
        self.principal = principal
        self.state = "authenticated"
        self.exchange = None
        reauth_ms = self.security.reauth_ms
        self.expires_at_s = now_s + reauth_ms / 1000 if reauth_ms > 0 else None
        return reauth_ms


def tls_principal(security: ListenerSecurity, dn: str | None, log: Callable[[str], None]) -> str | None:
    """An SSL listener's principal: the client certificate's DN mapped by ssl.principal.mapping.rules,
    User:ANONYMOUS without a certificate; None when no rule matches (the connection is refused)."""
    if dn is None:
        return "User:ANONYMOUS"
    try:
        return "User:" + map_principal_name(security.principal_rules, dn)
    except NoMatchingRule as exc:
        log(str(exc))
        return None
