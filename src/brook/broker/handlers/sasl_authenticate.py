"""SaslAuthenticate (key 36): one SASL token each way (KIP-152); v1+ tells the session lifetime (KIP-368).

PLAIN takes one round, SCRAM two (client-first -> server-first, client-final -> server-final); an unknown SCRAM
user fails on the client-first message, as Kafka. The SCRAM credential comes from the metadata store's cache
(on a cluster kept current by /config/changes notifications, so a credential changed on any broker holds
everywhere within moments), looked up off the event loop as it may read ZooKeeper while the cache reloads. A failure answers
SASL_AUTHENTICATION_FAILED and closes the connection; the log names the user, never the password.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from brook.broker.handlers.base import RequestContext, Session, handles
from brook.broker.handlers.sasl_handshake import _close_after
from brook.common.errors import ErrorCode
from brook.protocol.sasl import PlainServer, SaslFailure
from brook.protocol.scram import ScramCredential, ScramServer

logger = logging.getLogger(__name__)


@handles(36, versions=range(0, 3))
async def sasl_authenticate(ctx: RequestContext, req: Any) -> Any:
    channel = ctx.channel
    auth = getattr(channel, "authenticator", None)
    if (
        auth is None
    ):  # not a SASL listener: Kafka's KafkaApis answers ILLEGAL_SASL_STATE (the connection stays)
        return _failed(ctx, ErrorCode.illegal_sasl_state, "SASL is not enabled on this listener")
    if not auth.expecting_authenticate:
        _close_after(ctx)
        return _failed(ctx, ErrorCode.illegal_sasl_state, "SaslAuthenticate without a SaslHandshake first")
    exchange = auth.exchange
    token = bytes(req.auth_bytes)
    loop = asyncio.get_running_loop()
    try:
        if isinstance(exchange, PlainServer):
            out = exchange.respond(token)
            username = exchange.username
        else:
            assert isinstance(exchange, ScramServer)
            if exchange.username is None:
                user = exchange.client_first(token)
                text = await loop.run_in_executor(
                    ctx.broker.metadata_executor,
                    ctx.broker.metadata.scram_credential,
                    user,
                    exchange.mechanism,
                )
                credential = ScramCredential.from_kafka(text) if text else None
                first = exchange.server_first(credential)
                return first if ctx.request.raw_token else _ok(ctx, first, 0)
            out = exchange.client_final(token)
            username = exchange.username
        assert username is not None
        reauthentication = auth.principal is not None
        lifetime_ms = auth.succeeded(username, loop.time())
        channel.conn.limit_request_bytes(ctx.broker.server.max_request_bytes)  # type: ignore[union-attr]
        if reauthentication:
            logger.info("re-authenticated peer=%s principal=%s", ctx.client_host, auth.principal)
    except SaslFailure as exc:
        claimed = (
            exchange.claimed if isinstance(exchange, PlainServer) else getattr(exchange, "username", None)
        )
        logger.warning(
            "authentication failed peer=%s listener=%s mechanism=%s user=%s: %s",
            ctx.client_host,
            ctx.listener_name,
            auth.mechanism,
            claimed,
            exc,
        )
        _close_after(ctx)
        if ctx.request.raw_token:
            return None  # v0 framing has no error response: the connection closes
        return _failed(ctx, ErrorCode.sasl_authentication_failed, _client_message(auth, exc))
    channel.session = Session(auth.principal or "", ctx.listener_name, ctx.security_protocol)  # type: ignore[union-attr]
    logger.debug(
        "authenticated peer=%s principal=%s mechanism=%s", ctx.client_host, auth.principal, auth.mechanism
    )
    if ctx.request.raw_token:
        channel.conn.raw_tokens = False  # type: ignore[union-attr]  # Kafka requests from the next frame on
        return out
    return _ok(ctx, out, lifetime_ms)


def _client_message(auth: Any, exc: SaslFailure) -> str:
    """What the client is told. SCRAM: Kafka's words for any SaslException, which never say whether the
    user exists (an unknown user fails on the client-first message, a wrong password at the proof)."""
    if auth.mechanism == "PLAIN":
        return str(exc)
    during = "re-authentication" if auth.principal is not None else "authentication"
    return f"Authentication failed during {during} due to invalid credentials with SASL mechanism {auth.mechanism}"


def _ok(ctx: RequestContext, token: bytes, lifetime_ms: int) -> Any:
    return ctx.respond(
        error_code=ErrorCode.none, error_message=None, auth_bytes=token, session_lifetime=lifetime_ms
    )


def _failed(ctx: RequestContext, code: ErrorCode, message: str) -> Any:
    return ctx.respond(error_code=code, error_message=message, auth_bytes=b"", session_lifetime=0)
