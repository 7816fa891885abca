"""brook as a client of the other brokers (replica fetchers): a connection to a broker's inter-broker
listener with that listener's protocol, TLS (`ssl.*` of the listener, as a client) and SASL
(`sasl.mechanism.inter.broker.protocol`, the JAAS `username`/`password`), authenticated before it is
handed over: SaslHandshake v1, then SaslAuthenticate v2 rounds (PLAIN one, SCRAM two).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from brook.broker.security import InterBrokerSecurity
from brook.metadata.api import BrokerInfo
from brook.protocol.client import decode_response, encode_request
from brook.protocol.sasl import SaslFailure, plain_token
from brook.protocol.scram import ScramClient

__all__ = ["InterBrokerConnector"]

_SASL_HANDSHAKE, _SASL_AUTHENTICATE = 17, 36
_CLIENT_ID = "brook-inter-broker"


class InterBrokerConnector:
    def __init__(self, security: InterBrokerSecurity, timeout_s: float = 10.0) -> None:
        self.security = security
        self.timeout_s = timeout_s

    def address(self, broker: BrokerInfo) -> tuple[str, int]:
        return broker.address_for(self.security.listener_name) or (broker.host, broker.port)

    async def open(self, broker: BrokerInfo) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.address(broker)
        context = self.security.ssl_context
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None),
            self.timeout_s,
        )
        try:
            if self.security.mechanism:
                await self._authenticate(reader, writer)
        except BaseException:
            writer.close()
            raise
        return reader, writer

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sec = self.security
        response = await self._call(reader, writer, _SASL_HANDSHAKE, 1, 1, {"mechanism": sec.mechanism})
        if response.error_code != 0:
            raise OSError(f"SASL handshake for {sec.mechanism} refused: error {response.error_code}")
        if sec.mechanism == "PLAIN":
            await self._token(reader, writer, 2, plain_token(sec.username, sec.password))
            return
        scram = ScramClient(sec.mechanism, sec.username, sec.password)
        server_first = await self._token(reader, writer, 2, scram.first())
        try:  # a malformed server-first or an iteration count outside 4096-16384 is refused (scram.py)
            final = await asyncio.to_thread(scram.final, server_first)  # PBKDF2: off the event loop
            server_final = await self._token(reader, writer, 3, final)
            scram.verify(server_final)
        except SaslFailure as exc:
            raise OSError(str(exc)) from exc

    async def _token(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cid: int, token: bytes
    ) -> bytes:
        response = await self._call(reader, writer, _SASL_AUTHENTICATE, 2, cid, {"auth_bytes": token})
        if response.error_code != 0:
            raise OSError(f"inter-broker SASL authentication failed: {response.error_message}")
        return bytes(response.auth_bytes)

    async def _call(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        key: int,
        version: int,
        cid: int,
        body: dict[str, Any],
    ) -> Any:
        writer.write(encode_request(key, version, cid, _CLIENT_ID, body))
        await writer.drain()
        (size,) = struct.unpack(">i", await asyncio.wait_for(reader.readexactly(4), self.timeout_s))
        frame = await asyncio.wait_for(reader.readexactly(size), self.timeout_s)
        correlation_id, response = decode_response(key, version, frame)
        if correlation_id != cid:
            raise OSError(f"correlation id {correlation_id} != {cid}")
        return response
