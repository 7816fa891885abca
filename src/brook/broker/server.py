"""The TCP side: accept connections, move bytes between sockets and the sans-IO protocol layer.

Each connection is an asyncio.BufferedProtocol: the event loop reads straight into the buffer the
ServerConnection hands out (a big produce request lands in its own bytearray, never copied), and
every complete request starts a task. A writer task per connection awaits those tasks in arrival
order and writes their responses, so responses keep request order while a parked fetch does not stop
the requests behind it from being processed. The number of requests queued across all connections
is bounded by `queued.max.requests`, and per connection by `_PER_CONNECTION_QUEUE`; a full queue
pauses reading from that socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from brook.broker.acceptor import Acceptor
from brook.broker.handlers.base import REGISTRY, RequestContext
from brook.protocol.connection import NeedData, RemoteProtocolError, Request, ServerConnection

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["Server"]

_WRITE_HIGH_WATER = 1024 * 1024  # past this many unsent response bytes, wait for the client to read
_PER_CONNECTION_QUEUE = 64
_SHUTDOWN_GRACE_S = 5.0


class Server:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.port = 0
        self._server: Acceptor | None = None
        self._connections: set[_Connection] = set()
        self._stopping = False
        self._free_slots = max(1, broker.config.int("queued.max.requests"))
        self._waiting_for_slot: deque[_Connection] = deque()
        self.max_request_bytes = broker.config.int("socket.request.max.bytes")
        self.supported = {h.api_key: h.versions for h in REGISTRY.values()}

    async def start(self, host: str, port: int) -> None:
        # Our own accept loop: EMFILE pauses accepting instead of closing the listener (acceptor.py).
        self._server = Acceptor(lambda: _Connection(self))
        self.port = await self._server.start(host, port)

    async def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        writers = [c.writer for c in self._connections if c.writer is not None]
        for connection in list(self._connections):
            connection.stop_reading()
        if writers:
            _, still_running = await asyncio.wait(writers, timeout=_SHUTDOWN_GRACE_S)
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)

    # --- queued.max.requests across connections --------------------------------------------------

    def try_take_slot(self, connection: _Connection) -> bool:
        if self._free_slots > 0:
            self._free_slots -= 1
            return True
        if connection not in self._waiting_for_slot:
            self._waiting_for_slot.append(connection)
        return False

    def release_slot(self) -> None:
        self._free_slots += 1
        while self._waiting_for_slot and self._free_slots > 0:
            self._waiting_for_slot.popleft().resume_reading()

    async def dispatch(self, request: Request, peer: Any = None, channel: _Connection | None = None) -> Any:
        # queued.max.requests bounds requests waiting to be handled, as Kafka's request queue does; a
        # request parked in a handler (long-poll fetch, JoinGroup waiting for a rebalance) no longer counts,
        # else enough parked requests would stop the broker from reading anything.
        self.release_slot()
        self.broker.stats.requests += 1
        handler = REGISTRY[request.api_key]
        logger.debug(
            "request api_key=%d v%d correlation_id=%d client_id=%s peer=%s",
            request.api_key,
            request.api_version,
            request.correlation_id,
            request.client_id,
            peer,
        )
        client_host = f"/{peer[0]}" if isinstance(peer, tuple) and peer else ""  # Kafka's form: "/127.0.0.1"
        ctx = RequestContext(self.broker, request, client_host)
        ctx.channel = channel
        return await self.broker.quotas.run(ctx, handler.func, request.body)


class _Connection(asyncio.BufferedProtocol):
    """One client socket. Lives from connection_made until its writer task has finished."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = ServerConnection(max_request_bytes=server.max_request_bytes, supported=server.supported)
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self.writer: asyncio.Task[None] | None = None
        self._pending: asyncio.Queue[tuple[Request, asyncio.Task[Any]] | None] = asyncio.Queue()
        self._queued = 0  # requests read but not yet answered on this connection
        self._paused = False
        self._reading_done = False
        self._lost = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._muted_until = 0.0  # loop time until which a quota keeps this connection unread

    # --- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tcp: asyncio.Transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass
        self.transport = tcp
        self.peer = tcp.get_extra_info("peername")
        tcp.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        self.server.broker.stats.connections_accepted += 1
        self.server._connections.add(self)
        self.writer = asyncio.get_running_loop().create_task(self._write_responses())
        if self.server._stopping:
            self.stop_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.conn.buffer_updated(nbytes)
        self._start_requests()

    def eof_received(self) -> bool:
        self.stop_reading()
        return True  # keep the socket open until the responses already owed are written

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.debug("connection lost peer=%s: %r", self.peer, exc)
        self._lost = True
        self._can_write.set()
        self.stop_reading()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # --- reading ---------------------------------------------------------------------------------

    def _start_requests(self) -> None:
        """Start a task for each complete request, while this connection and the broker have room."""
        if self._muted_until:
            self._pause()  # a quota throttles this client: its requests wait in the buffer (KIP-219)
            return
        while not self._reading_done:
            if self._queued >= _PER_CONNECTION_QUEUE or not self.server.try_take_slot(self):
                self._pause()
                return
            try:
                request = self.conn.next_request()
            except RemoteProtocolError as exc:
                self.server.release_slot()
                self.server.broker.stats.connections_closed_for_protocol_errors += 1
                logger.warning("closing connection peer=%s: %s", self.peer, exc)
                self.stop_reading()
                return
            if isinstance(request, NeedData):
                self.server.release_slot()
                return
            self._queued += 1
            task = asyncio.get_running_loop().create_task(self.server.dispatch(request, self.peer, self))
            self._pending.put_nowait((request, task))

    def _pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        # Requests may already be buffered in full: start them before waiting for more bytes.
        if self._paused and not self._reading_done:
            self._paused = False
            if self.transport is not None and not self._lost:
                self.transport.resume_reading()
            self._start_requests()

    def stop_reading(self) -> None:
        """No more requests from this connection; the writer answers the queued ones, then closes."""
        if self._reading_done:
            return
        self._reading_done = True
        if self.transport is not None and not self._lost and not self._paused:
            self.transport.pause_reading()
        self._pending.put_nowait(None)

    # --- writing ---------------------------------------------------------------------------------

    async def _write_responses(self) -> None:
        assert self.transport is not None
        transport = self.transport
        failed = False
        try:
            while (item := await self._pending.get()) is not None:
                request, task = item
                try:
                    body = await task
                except Exception:
                    # A bug on our side: log it and close this connection; other clients never notice.
                    logger.exception(
                        "handler failed api_key=%d peer=%s; closing connection", request.api_key, self.peer
                    )
                    failed = True
                    transport.close()
                    continue
                finally:
                    self.conn.release(request)
                    self._queued -= 1
                    if self._paused:
                        self.resume_reading()
                if body is None or failed or self._lost:
                    continue  # acks=0 produce: no response (or the connection is closing)
                transport.writelines(self.conn.send_response(request, body))
                if not self._can_write.is_set():
                    await self._can_write.wait()
        finally:
            self.server._connections.discard(self)
            with contextlib.suppress(Exception):
                transport.close()

    # --- what handlers ask of their connection (handlers/base.py's Channel) -------------------------

    def mute_for(self, delay_ms: int) -> None:
        if delay_ms <= 0 or self._reading_done:
            return
        loop = asyncio.get_running_loop()
        self._muted_until = max(self._muted_until, loop.time() + delay_ms / 1000)
        self._pause()
        loop.call_at(self._muted_until, self._unmute)

    def _unmute(self) -> None:
        if self._muted_until and asyncio.get_running_loop().time() >= self._muted_until - 0.001:
            self._muted_until = 0.0
            self.resume_reading()

    async def wait_unmuted(self) -> None:
        while self._muted_until and not self._reading_done:  # noqa: ASYNC110 - sleeps to the mute's end
            await asyncio.sleep(max(self._muted_until - asyncio.get_running_loop().time(), 0.001))

    def writer_reached(self, task: Any) -> bool:
        if self.writer is None or self.writer.done() or self._lost:
            return True
        # the queue ends with None once reading stopped (client closed, broker stopping): skip that marker
        queued = self._pending._queue  # type: ignore[attr-defined]
        return all(item is None or item[1] is not task for item in queued)
