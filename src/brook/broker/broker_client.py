"""Requests from this broker to another over Kafka's wire protocol: one connection per broker, one request in
flight on it at a time, reconnecting on the next request after a failure.

Used by the transaction coordinator for WriteTxnMarkers to the other leaders (its own partitions' markers are
written directly, txn_marker_writer.py). Connections are opened by `open_connection` (the Broker passes its
InterBrokerConnector's: the inter-broker listener with its TLS and SASL, so the receiving broker sees this broker's
inter-broker principal, which an authorizer must let do CLUSTER_ACTION: a super user, as Kafka requires). Without
one: plain TCP to the broker's registered address.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from brook.metadata.api import BrokerInfo
from brook.protocol.client import decode_response, encode_request

logger = logging.getLogger(__name__)

__all__ = ["BrokerClient"]

_SIZE = struct.Struct(">i")

Opener = Callable[[BrokerInfo], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _plain_tcp(broker: BrokerInfo) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(broker.host, broker.port)


class _Connection:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.broker: BrokerInfo | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class BrokerClient:
    def __init__(self, client_id: str, open_connection: Opener = _plain_tcp) -> None:
        self._client_id = client_id
        self._open = open_connection
        self._connections: dict[int, _Connection] = {}
        self._correlation_id = 0

    async def request(
        self, broker: BrokerInfo, api_key: int, version: int, body: Mapping[str, Any], timeout_s: float
    ) -> Any:
        """The decoded response; OSError/TimeoutError when the broker cannot be reached or does not answer."""
        connection = self._connections.setdefault(broker.node_id, _Connection())
        async with connection.lock:
            try:
                return await asyncio.wait_for(
                    self._round_trip(connection, broker, api_key, version, body), timeout_s
                )
            except BaseException:
                connection.close()  # the stream is in an unknown state: start afresh next time
                raise

    async def _round_trip(
        self, connection: _Connection, broker: BrokerInfo, api_key: int, version: int, body: Mapping[str, Any]
    ) -> Any:
        if connection.writer is None or connection.broker != broker or connection.writer.is_closing():
            connection.close()
            connection.reader, connection.writer = await self._open(broker)
            connection.broker = broker  # (a re-registration with new addresses reconnects)
        assert connection.reader is not None
        assert connection.writer is not None
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        correlation_id = self._correlation_id
        connection.writer.write(encode_request(api_key, version, correlation_id, self._client_id, body))
        await connection.writer.drain()
        (size,) = _SIZE.unpack(await connection.reader.readexactly(4))
        frame = await connection.reader.readexactly(size)
        answered, response = decode_response(api_key, version, frame)
        if answered != correlation_id:
            raise OSError(f"correlation id {answered} != {correlation_id}")
        return response

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
