"""SaslHandshake (key 17): pick a SASL mechanism; SaslAuthenticate (key 36) carries the exchange.

v1: the tokens travel in SaslAuthenticate requests (KIP-152). v0: the next frames are bare tokens, without
a Kafka header, answered the same way (protocol/connection.py's raw_tokens) until authenticated.
broker/authenticator.py keeps the state.
"""

from __future__ import annotations

import logging
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode

logger = logging.getLogger(__name__)


@handles(17, versions=range(0, 2))
async def sasl_handshake(ctx: RequestContext, req: Any) -> Any:
    channel = ctx.channel
    auth = getattr(channel, "authenticator", None)
    if (
        auth is None
    ):  # not a SASL listener: Kafka's KafkaApis answers ILLEGAL_SASL_STATE (the connection stays)
        return ctx.respond(error_code=ErrorCode.illegal_sasl_state, mechanisms=[])
    mechanisms = list(auth.security.mechanisms)
    if not auth.handshake(str(req.mechanism)):
        logger.warning(
            "closing connection peer=%s listener=%s: SASL mechanism %s is not enabled (%s)",
            ctx.client_host,
            ctx.listener_name,
            req.mechanism,
            ",".join(mechanisms),
        )
        _close_after(ctx)
        return ctx.respond(error_code=ErrorCode.unsupported_sasl_mechanism, mechanisms=mechanisms)
    if ctx.version == 0:
        channel.conn.raw_tokens = True  # type: ignore[union-attr]
    return ctx.respond(error_code=ErrorCode.none, mechanisms=mechanisms)


def _close_after(ctx: RequestContext) -> None:
    close = getattr(ctx.channel, "close_after_response", None)
    if close is not None:
        close()
