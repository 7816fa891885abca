"""The TCP side: accept connections, move bytes between sockets and the sans-IO protocol layer.

Each connection is an asyncio.BufferedProtocol: the event loop reads straight into the buffer the
ServerConnection hands out (a big produce request lands in its own bytearray, never copied), and
every complete request starts a task. A writer task per connection awaits those tasks in arrival
order and writes their responses, so responses keep request order while a parked fetch does not stop
the requests behind it from being processed. The number of requests queued across all connections
is bounded by `queued.max.requests`, and per connection by `_PER_CONNECTION_QUEUE`; a full queue
pauses reading from that socket, and so does a client that does not read its responses (more than
`_WRITE_HIGH_WATER` bytes unsent).

Memory: request bytes come from one broker-wide RequestMemory (protocol/request_memory.py). A request
too big for a scratch buffer reserves its size in the pool of `queued.max.request.bytes` before it is
read; while the pool is full that connection stops reading and waits in `_waiting_for_memory` until a
request is answered. Kafka's default (-1) means "no pool" in Kafka; brook then uses a pool of
`socket.request.max.bytes`, so big requests in flight never hold more than that much. Connection
counts (`max.connections`, `max.connections.per.ip`, its overrides) and idle expiry
(`connections.max.idle.ms`) are decided in broker/connection_limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from brook.broker.acceptor import Acceptor
from brook.broker.authenticator import Authenticator, tls_principal
from brook.broker.connection_limits import (
    admission_refusal,
    idle_sweep_interval_s,
    is_idle,
    parse_ip_overrides,
)
from brook.broker.handlers.base import NOT_NOW, OFF_LOOP_REQUEST_BYTES, REGISTRY, RequestContext, Session
from brook.broker.request_metrics import RequestMetrics
from brook.broker.tls import coalesce_for_tls, peer_certificate_dn
from brook.broker.zero_copy import (
    INLINE_READ_BYTES,
    Chunk,
    FileRange,
    RangeBudget,
    ShortRange,
    SplicePipe,
    close_ranges,
    range_bytes,
    read_ranges,
)
from brook.protocol.connection import NeedData, RemoteProtocolError, Request, ServerConnection
from brook.protocol.request_memory import RequestMemory
from brook.storage.api import FileSlice

if TYPE_CHECKING:
    from brook.broker.app import Broker
    from brook.broker.security import ListenerSecurity

logger = logging.getLogger(__name__)

__all__ = ["Server"]

_WRITE_HIGH_WATER = 1024 * 1024  # past this many unsent response bytes, wait for the client to read
_PER_CONNECTION_QUEUE = 64
_SHUTDOWN_GRACE_S = 5.0
_PRODUCE_KEY = 0
_FETCH_KEY = 1
# Big requests a connection may pipeline: Produce (its records stay the frame's bytes, not decoded), and the
# group requests that wait for a rebalance (the member's other requests must not wait behind them).
_NOT_ALONE = frozenset({0, 11, 14})  # Produce, JoinGroup, SyncGroup
_AUTHENTICATING = ("handshake", "authenticate")  # Authenticator states before a first authentication
_COALESCE_CHUNKS = 256  # responses ready together share a write up to about this many chunks
# descriptors fetch responses may hold open at once to send records from the files (zero_copy.py's
# RangeBudget; docs/operations.md counts them in brook.open.files.reserved)
_RANGE_FILES = 128


class Server:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.port = 0  # the first listener's
        self.ports: dict[str, int] = {}  # listener name -> bound port
        self._acceptors: list[Acceptor] = []
        self._connections: set[_Connection] = set()
        self._stopping = False
        self._free_slots = max(1, broker.config.int("queued.max.requests"))
        self._waiting_for_slot: deque[_Connection] = deque()
        self.max_request_bytes = broker.config.int("socket.request.max.bytes")
        self.sasl_max_receive_bytes = broker.config.int("sasl.server.max.receive.size")
        self.max_elements = broker.config.int("brook.request.max.elements")
        self.supported = {h.api_key: h.versions for h in REGISTRY.values()}
        self.request_metrics = RequestMetrics(self.supported.items())
        pool_bytes = broker.config.int("queued.max.request.bytes")
        self.memory = RequestMemory(capacity=pool_bytes if pool_bytes > 0 else self.max_request_bytes)
        self._waiting_for_memory: deque[_Connection] = deque()
        self.max_connections = broker.config.int("max.connections")
        self.max_connections_per_ip = broker.config.int("max.connections.per.ip")
        self._override_entries = parse_ip_overrides(broker.config.get("max.connections.per.ip.overrides"))
        self.ip_overrides: dict[str, int] = {}
        self._from_ip: dict[str, int] = {}
        self.idle_ms = broker.config.int("connections.max.idle.ms")
        self._idle_task: asyncio.Task[None] | None = None
        self._splice_pipe: SplicePipe | None = None
        self.range_budget = RangeBudget(_RANGE_FILES)

    async def start(self, listeners: Sequence[ListenerSecurity]) -> None:
        """Bind every listener (in config order); `ports` maps each listener name to its bound port."""
        loop = asyncio.get_running_loop()
        self.ip_overrides = await _resolve_overrides(loop, self._override_entries)
        for security in listeners:
            # Our own accept loop: EMFILE pauses accepting instead of closing the listener (acceptor.py).
            acceptor = Acceptor(lambda s=security: _Connection(self, s), security.ssl_context)  # type: ignore[misc]
            self._acceptors.append(acceptor)
            self.ports[security.listener.name] = await acceptor.start(
                security.listener.host, security.listener.port
            )
        self.port = self.ports[listeners[0].listener.name]
        if self.idle_ms >= 0:
            self._idle_task = loop.create_task(self._close_idle_connections())

    async def stop(self) -> None:
        self._stopping = True
        if self._idle_task is not None:
            self._idle_task.cancel()
            await asyncio.gather(self._idle_task, return_exceptions=True)
        for acceptor in self._acceptors:
            acceptor.close()
        writers = [c.writer for c in self._connections if c.writer is not None]
        for connection in list(self._connections):
            connection.stop_reading()
        if writers:
            _, still_running = await asyncio.wait(writers, timeout=_SHUTDOWN_GRACE_S)
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)
        if self._splice_pipe is not None:
            self._splice_pipe.close()
            self._splice_pipe = None

    def splice_pipe(self) -> SplicePipe | None:
        """The pipe fetched records pass through to a plain TCP socket (zero_copy.py), made on first use;
        None while no descriptor is left for it (the records are read into bytes then)."""
        if self._splice_pipe is None:
            try:
                self._splice_pipe = SplicePipe()
            except OSError as exc:
                logger.warning("cannot make the pipe fetched records are spliced through: %s", exc)
        return self._splice_pipe

    # --- connections ----------------------------------------------------------------------------

    def admit(self, connection: _Connection) -> bool:
        ip = connection.peer[0] if isinstance(connection.peer, tuple) and connection.peer else ""
        refusal = admission_refusal(
            ip,
            total=len(self._connections),
            from_ip=self._from_ip.get(ip, 0),
            max_connections=self.max_connections,
            max_per_ip=self.max_connections_per_ip,
            overrides=self.ip_overrides,
        )
        if refusal is not None:
            self.broker.stats.connections_refused += 1
            logger.warning("closing new connection peer=%s: %s", connection.peer, refusal)
            return False
        connection.ip = ip
        self._connections.add(connection)
        self._from_ip[ip] = self._from_ip.get(ip, 0) + 1
        return True

    def forget(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.discard(connection)
            left = self._from_ip.get(connection.ip, 1) - 1
            if left > 0:
                self._from_ip[connection.ip] = left
            else:
                self._from_ip.pop(connection.ip, None)
        self.memory_released()

    async def _close_idle_connections(self) -> None:
        loop = asyncio.get_running_loop()
        interval_s = idle_sweep_interval_s(self.idle_ms)
        while True:
            await asyncio.sleep(interval_s)
            now = loop.time()
            for connection in list(self._connections):
                if is_idle(
                    last_active_s=connection.last_active_s,
                    now_s=now,
                    idle_ms=self.idle_ms,
                    responses_owed=connection.responses_owed,
                ):
                    logger.info(
                        "closing connection peer=%s: idle for connections.max.idle.ms=%d",
                        connection.peer,
                        self.idle_ms,
                    )
                    self.broker.stats.connections_closed_idle += 1
                    connection.close_idle()

    # --- request memory (queued.max.request.bytes) ----------------------------------------------

    def wait_for_memory(self, connection: _Connection) -> None:
        if connection not in self._waiting_for_memory:
            self._waiting_for_memory.append(connection)

    def memory_released(self) -> None:
        """A request's memory went back to the pool: let waiting connections take their big frames."""
        while self._waiting_for_memory:
            connection = self._waiting_for_memory[0]
            if not connection.reading:
                self._waiting_for_memory.popleft()
                continue
            connection.conn.retry_memory()
            if connection.conn.memory_blocked:
                return
            self._waiting_for_memory.popleft()
            connection.resume_reading()

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

    def handle(self, request: Request, peer: Any, channel: _Connection, *, now: bool) -> asyncio.Future[Any]:
        """Handle a request read off `channel`; the writer awaits what this returns. With `now` (every earlier
        Produce on the connection holds its append turns) and no client quota set, a handler with a synchronous
        path (Handler.now) tries the request at once, on the loop: the common Produce is answered without a task
        of its own (a task costs ~10 us to create and run, of a ~250 us request on the bench machine), an
        acks=all one leaves only its wait for the ISR to one. Otherwise, or when that path declines, the
        handler runs in a task (`dispatch`)."""
        loop = asyncio.get_running_loop()
        handler = REGISTRY[request.api_key]
        if not now or handler.now is None or self.broker.quotas.configs:
            return loop.create_task(self.dispatch(request, peer, channel))
        self._count(request, peer, slot_released=False)
        ctx = self._context(request, peer, channel)
        token = self.request_metrics.begin(request)
        future: asyncio.Future[Any]
        try:
            answer = handler.now(ctx, request.body)
            if answer is NOT_NOW:
                return loop.create_task(
                    self.dispatch(request, peer, channel, slot_released=True, counted=True)
                )
            if isinstance(answer, Awaitable):
                return loop.create_task(_finish(request, answer))  # in this context: it counts remote time
            future = loop.create_future()
            future.set_result(answer)
        except Exception as exc:  # noqa: BLE001 - the writer logs it and closes the connection, as for a task
            future = loop.create_future()
            future.set_exception(exc)
        finally:
            self.request_metrics.end(token)
        request.done_ns = time.monotonic_ns()
        return future

    async def dispatch(
        self,
        request: Request,
        peer: Any = None,
        channel: _Connection | None = None,
        *,
        slot_released: bool = False,
        counted: bool = False,
    ) -> Any:
        if not counted:
            self._count(request, peer, slot_released=slot_released)
        handler = REGISTRY[request.api_key]
        ctx = self._context(request, peer, channel)
        self.request_metrics.begin(request)
        try:
            return await self.broker.quotas.run(ctx, handler.func, request.body)
        finally:
            request.done_ns = time.monotonic_ns()

    def _count(self, request: Request, peer: Any, *, slot_released: bool) -> None:
        # queued.max.requests bounds requests waiting to be handled, as Kafka's request queue does; a
        # request parked in a handler (long-poll fetch, JoinGroup waiting for a rebalance) no longer counts,
        # else enough parked requests would stop the broker from reading anything.
        if not slot_released:
            self.release_slot()
        self.broker.stats.requests += 1
        logger.debug(
            "request api_key=%d v%d correlation_id=%d client_id=%s peer=%s",
            request.api_key,
            request.api_version,
            request.correlation_id,
            request.client_id,
            peer,
        )

    def _context(self, request: Request, peer: Any, channel: _Connection | None) -> RequestContext:
        client_host = f"/{peer[0]}" if isinstance(peer, tuple) and peer else ""  # Kafka's form: "/127.0.0.1"
        session = channel.session if channel is not None else None
        ctx = RequestContext(self.broker, request, client_host, session)
        ctx.channel = channel
        return ctx

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def connections_by_listener(self) -> dict[str, int]:
        """Open connections per listener name (Kafka's socket-server-metrics connection-count)."""
        counts: dict[str, int] = {}
        for connection in self._connections:
            name = connection.session.listener_name
            counts[name] = counts.get(name, 0) + 1
        return counts


# What a connection's writer answers in turn: a request, what its handler returns (a task, or a future already
# done for a request handled at once: Server.handle), and for a Fetch its turn (_fetch_in_turn)
_Answer = tuple[Request, "asyncio.Future[Any]", "asyncio.Future[None] | None"]


class _Connection(asyncio.BufferedProtocol):
    """One client socket. Lives from connection_made until its writer task has finished."""

    def __init__(self, server: Server, security: ListenerSecurity | None = None) -> None:
        self.server = server
        self.security = security
        # a SASL listener: nothing but ApiVersions and the SASL exchange until authenticated (authenticator.py)
        self.authenticator = Authenticator(security) if security and security.listener.uses_sasl else None
        self._tls = security is not None and security.ssl_context is not None
        self.conn = ServerConnection(
            max_request_bytes=server.max_request_bytes,
            supported=server.supported,
            memory=server.memory,
            max_elements=server.max_elements,
        )
        if self.authenticator is not None:  # unauthenticated frames stay small, as in Kafka
            self.conn.limit_request_bytes(min(server.max_request_bytes, server.sasl_max_receive_bytes))
        self.transport: asyncio.Transport | None = None
        self._sock_fd = -1  # plain TCP: the transport's socket, which file ranges are sent on (zero_copy.py)
        self._socket_room: asyncio.Future[None] | None = None  # resolved when the socket has room again
        self.session = (
            Session(
                listener_name=security.listener.name, security_protocol=security.listener.security_protocol
            )
            if security
            else Session()
        )  # who is on this connection (replaced once authenticated)
        self.peer: Any = None
        self.ip = ""
        self.last_active_s = 0.0
        self.writer: asyncio.Task[None] | None = None
        # (request, its handler task, for a Fetch: its turn, resolved when the writer reaches it, i.e. once
        # every earlier response on this connection has been handed to the socket)
        # (None ends it: reading stopped). The writer sleeps on `_writer_idle` while it is empty.
        self._pending: deque[_Answer | None] = deque()
        self._writer_idle: asyncio.Future[None] | None = None
        self._queued = 0  # requests read but not yet answered on this connection
        self._paused = False
        self._reading_done = False
        self._lost = False
        self._failed = False  # a handler raised: the connection closes once the writer is done
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._muted_until = 0.0  # loop time until which a quota keeps this connection unread
        self._big_in_flight: Request | None = None  # read nothing more until it is answered (_start_requests)
        self._last_produce: Request | None = (
            None  # the latest Produce read (its turns_taken: _start_requests)
        )

    # --- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tcp: asyncio.Transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass
        self.transport = tcp
        self.peer = tcp.get_extra_info("peername")
        if self.security is not None and self.security.listener.security_protocol == "SSL":
            principal = tls_principal(
                self.security,
                peer_certificate_dn(tcp.get_extra_info("ssl_object")),
                lambda why: logger.warning("closing connection peer=%s: %s", self.peer, why),
            )
            if principal is None:
                self._reading_done = True
                tcp.close()
                return
            self.session = dataclasses.replace(self.session, principal=principal)
        if not self.server.admit(self):
            self._reading_done = True
            tcp.close()
            return
        self.server.broker.stats.connections_accepted += 1
        self.server.broker.stats.accepted_on(self.session.listener_name)
        tcp.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        sock = tcp.get_extra_info("socket")
        if sock is not None and not self._tls:
            self._sock_fd = sock.fileno()
        loop = asyncio.get_running_loop()
        self.last_active_s = loop.time()
        self.writer = loop.create_task(self._write_responses())
        if self.server._stopping:
            self.stop_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.conn.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.conn.buffer_updated(nbytes)
        self.last_active_s = asyncio.get_running_loop().time()
        self._start_requests()
        if self.conn.memory_blocked and not self._reading_done:
            self._pause()
            self.server.wait_for_memory(self)

    def eof_received(self) -> bool:
        self.stop_reading()
        # keep the socket open until the responses already owed are written (TCP; over TLS asyncio closes
        # anyway and warns on every client close if asked to keep it)
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.debug("connection lost peer=%s: %r", self.peer, exc)
        self._lost = True
        _resolve(self._socket_room)
        self._can_write.set()
        self.stop_reading()

    def pause_writing(self) -> None:
        # A client that does not read its responses is not read from either (as Kafka mutes a channel
        # until its response is sent), so it cannot pile up more requests' responses in memory.
        self._can_write.clear()
        self._pause()

    def resume_writing(self) -> None:
        self._can_write.set()
        self.resume_reading()

    # --- reading ---------------------------------------------------------------------------------

    @property
    def reading(self) -> bool:
        return not self._reading_done

    @property
    def responses_owed(self) -> int:
        return self._queued

    def close_idle(self) -> None:
        self.stop_reading()
        if self.transport is not None:
            self.transport.close()

    def _start_requests(self) -> None:
        """Start a task for each complete request, while this connection and the broker have room."""
        if self._muted_until:
            self._pause()  # a quota throttles this client: its requests wait in the buffer (KIP-219)
            return
        while not self._reading_done:
            if not self._can_write.is_set():
                self._pause()
                return
            if self._queued and (
                self._big_in_flight is not None
                or (self.authenticator is not None and self.authenticator.state in _AUTHENTICATING)
            ):
                # One request at a time until authenticated, as Kafka's authenticator reads them: each is
                # checked against the state the previous one left (a second SaslHandshake closes the connection).
                # And nothing more while a big request is handled: 64 pipelined requests naming 100,000
                # partitions each would hold gigabytes of decoded entries and responses at once.
                self._pause()
                return
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
            if self.authenticator is not None and self._refused(request):
                return
            self._queued += 1
            request.received_ns = time.monotonic_ns()
            loop = asyncio.get_running_loop()
            task: asyncio.Future[Any]
            if request.api_key == _FETCH_KEY:
                turn = loop.create_future()
                task = loop.create_task(self._fetch_in_turn(request, turn))
                self._enqueue((request, task, turn))
            else:
                # A Produce's append turns are taken when its handler starts: one handled at once may not
                # overtake an earlier one still waiting for its task to start (Server.handle).
                last = self._last_produce
                task = self.server.handle(request, self.peer, self, now=last is None or last.turns_taken)
                if request.api_key == _PRODUCE_KEY:
                    self._last_produce = request
                self._enqueue((request, task, None))
                if request.size >= OFF_LOOP_REQUEST_BYTES and request.api_key not in _NOT_ALONE:
                    self._big_in_flight = request

    def _refused(self, request: Request) -> bool:
        """Before authentication only the SASL exchange may run: anything else closes the connection."""
        assert self.authenticator is not None
        refusal = self.authenticator.refusal(request.api_key, asyncio.get_running_loop().time())
        if refusal is None:
            return False
        logger.warning(
            "closing connection peer=%s listener=%s: %s", self.peer, self.session.listener_name, refusal
        )
        self.server.release_slot()
        reserved = request.reserved
        self.conn.release(request)
        if reserved:
            self.server.memory_released()
        self.stop_reading()
        return True

    def close_after_response(self) -> None:
        """Answer what was read, then close (a failed authentication)."""
        self.stop_reading()

    async def _fetch_in_turn(self, request: Request, turn: asyncio.Future[None]) -> Any:
        """A Fetch starts reading once every response before it on this connection went to a socket the
        client is reading (the writer resolves `turn` when it reaches this request: no polling): a client
        that pipelines big fetches and never reads holds at most one response in memory, not one per
        queued request. Clients send one Fetch per broker anyway."""
        self.server.release_slot()  # waiting here is not waiting in the request queue
        await turn
        await self._can_write.wait()
        return await self.server.dispatch(request, self.peer, self, slot_released=True)

    def _pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        # Requests may already be buffered in full: start them before waiting for more bytes.
        # A connection waiting for request memory is resumed by Server.memory_released instead, a muted one
        # (a quota's throttle time) by _unmute.
        if (
            self._paused
            and not self._reading_done
            and not self.conn.memory_blocked
            and self._can_write.is_set()
            and not self._muted_until
        ):
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
        self._enqueue(None)

    # --- writing ---------------------------------------------------------------------------------

    def _enqueue(self, item: _Answer | None) -> None:
        pending = self._pending
        if item is not None and pending and pending[-1] is None:
            # a handler run at once stopped the reading (an acks=0 producer's error): the end stays last, so
            # the request that stopped it is still answered (its memory released) before the writer ends
            pending.insert(len(pending) - 1, item)
        else:
            pending.append(item)
        _resolve(self._writer_idle)

    async def _write_responses(self) -> None:
        """Answer the queued requests in order. Responses already made when the writer reaches them go out
        together in one write (a pipelining client's batch of produce answers: one send, not five); a
        Fetch is never made before the writer reaches it, so it always starts a new write."""
        assert self.transport is not None
        transport = self.transport
        pending = self._pending
        loop = asyncio.get_running_loop()
        out: list[Chunk] = []
        ranges = False  # `out` holds FileRanges (a Fetch answered on a plain TCP connection: zero_copy.py)
        answered: list[tuple[Request, int, Any]] = []  # (request, dequeued_ns, body) for the request metrics
        try:
            while True:
                while not pending:
                    self._writer_idle = loop.create_future()
                    await self._writer_idle
                item = pending.popleft()
                if item is None:
                    break
                while True:
                    request, task, turn = item
                    _resolve(turn)  # every earlier response is written: a Fetch may start reading
                    answer = await self._answer(request, task)
                    if answer is not None:
                        chunks, body = answer
                        out.extend(chunks)
                        ranges = ranges or (
                            request.api_key == _FETCH_KEY and any(isinstance(c, FileRange) for c in chunks)
                        )
                        answered.append((request, time.monotonic_ns(), body))
                    ready = pending[0] if pending else None
                    if ready is None or not ready[1].done() or len(out) > _COALESCE_CHUNKS:
                        break
                    item = ready
                    pending.popleft()
                if out:
                    if ranges:
                        await self._write_with_ranges(transport, out)
                        ranges = False
                    else:
                        # TLS: small chunks joined (one record, not one per chunk), big ones not copied (tls.py)
                        transport.writelines(coalesce_for_tls(out) if self._tls else out)  # type: ignore[arg-type]
                    sent_ns = time.monotonic_ns()
                    for request, dequeued_ns, body in answered:
                        self.server.request_metrics.record(request, dequeued_ns, sent_ns, body)
                    out.clear()
                    answered.clear()
                    self.last_active_s = loop.time()
                if not self._can_write.is_set():
                    await self._can_write.wait()
        except Exception:
            logger.exception("connection writer failed peer=%s; closing connection", self.peer)
        finally:
            close_ranges(out)
            while pending:  # the writer failed: no Fetch may wait for it forever
                if (left := pending.popleft()) is not None:
                    _resolve(left[2])
            self.conn.close()
            self.server.forget(self)
            with contextlib.suppress(Exception):
                transport.close()

    async def _write_with_ranges(self, transport: asyncio.Transport, out: list[Chunk]) -> None:
        """Send a response holding FileRanges (zero_copy.py) straight on the socket, spliced from the files,
        once the transport has sent what it holds: as much as the socket takes, then again each time it has
        room (reading from this client stops meanwhile, as when the transport's buffer is full). Where that
        cannot be (no descriptor left for the pipe or for waiting), the rest is read into bytes (on a worker
        thread past 1 MiB) and left to the transport. A peer gone or a file truncated under a range closes
        the connection."""
        try:
            rest: list[Chunk] = out
            pipe = self.server.splice_pipe()
            loop = asyncio.get_running_loop()
            while pipe is not None and rest and not (self._lost or self._failed or transport.is_closing()):
                if not transport.get_write_buffer_size():  # else earlier responses' bytes go first
                    rest = pipe.write_now(self._sock_fd, rest)
                    if not rest:
                        return
                if not await self._until_writable():
                    break  # no descriptor to wait on: the transport sends the rest
                self.last_active_s = loop.time()  # the client read: not idle
            if not rest or self._lost or self._failed or transport.is_closing():
                return
            if range_bytes(rest) > INLINE_READ_BYTES:
                data = await asyncio.to_thread(read_ranges, rest)
            else:
                data = read_ranges(rest)
            if not (self._lost or self._failed):
                transport.writelines(data)
        except ShortRange as exc:
            logger.warning(
                "closing connection peer=%s: a fetched segment shrank while sent: %s", self.peer, exc
            )
            self._close_after_failure()
        except OSError as exc:  # EPIPE, ECONNRESET: the client is gone
            logger.debug("connection lost while sending peer=%s: %r", self.peer, exc)
            self._close_after_failure()
        finally:
            close_ranges(out)

    async def _until_writable(self) -> bool:
        """Until the socket has room again (or the connection is lost): False if there is no descriptor to
        wait on. uvloop refuses a writer callback on a transport's own descriptor, so this one waits on a
        duplicate, open only meanwhile. Reading stops meanwhile, so a client that does not read its responses
        cannot pile up requests (as with the transport's pause_writing)."""
        try:
            fd = os.dup(self._sock_fd)
        except OSError:
            return False
        loop = asyncio.get_running_loop()
        self._socket_room = loop.create_future()
        paused_here = self._can_write.is_set()  # else the transport paused us and will resume us itself
        if paused_here:
            self.pause_writing()
        try:
            loop.add_writer(fd, _resolve, self._socket_room)
            try:
                await self._socket_room
            finally:
                loop.remove_writer(fd)
        finally:
            os.close(fd)
            self._socket_room = None
            if paused_here and not self._lost:
                self.resume_writing()
        return True

    async def _answer(self, request: Request, task: asyncio.Future[Any]) -> tuple[list[Chunk], Any] | None:
        """The framed response to `request` (and the body it was made from) once its handler is done; None if
        nothing is to be sent: an acks=0 produce, or a failure that closes this connection (logged)."""
        try:
            body = await task
        except RemoteProtocolError as exc:
            # a body only its handler decodes (OffsetForLeaderEpoch v0-1) that does not fit its layout
            self.server.broker.stats.connections_closed_for_protocol_errors += 1
            logger.warning(
                "closing connection peer=%s: api_key=%d v%d: %s",
                self.peer,
                request.api_key,
                request.api_version,
                exc,
            )
            self._close_after_failure()
            return None
        except Exception:
            # A bug on our side: log it and close this connection; other clients never notice.
            logger.exception(
                "handler failed api_key=%d v%d peer=%s; closing connection",
                request.api_key,
                request.api_version,
                self.peer,
            )
            self._close_after_failure()
            return None
        finally:
            reserved = request.reserved
            self.conn.release(request)
            self._queued -= 1
            if request is self._big_in_flight:
                self._big_in_flight = None
            if reserved:
                self.server.memory_released()
            if self._paused:
                self.resume_reading()
        if body is None:  # acks=0 produce: no response
            now_ns = time.monotonic_ns()
            self.server.request_metrics.record(request, now_ns, now_ns)
            return None
        if self._failed or self._lost:
            return None  # the connection is closing
        try:
            if request.size >= OFF_LOOP_REQUEST_BYTES and not isinstance(body, bytes | list):
                # a big request's response may be big: encoded on a worker thread, not the loop
                chunks = await asyncio.to_thread(self.conn.send_response, request, body)
            else:
                chunks = self.conn.send_response(request, body)
        except Exception:
            # A response we cannot encode is a bug on our side too: logged, this connection closed.
            logger.exception(
                "cannot encode the response to api_key=%d v%d peer=%s; closing connection",
                request.api_key,
                request.api_version,
                self.peer,
            )
            self._close_after_failure()
            return None
        return chunks, body

    def _close_after_failure(self) -> None:
        self._failed = True
        if self.transport is not None:
            self.transport.close()

    # --- what handlers ask of their connection (handlers/base.py's Channel) -------------------------

    def file_range(self, source: FileSlice) -> FileRange | None:
        if self._sock_fd < 0 or self._lost:
            return None
        return self.server.range_budget.take(source)

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


async def _resolve_overrides(loop: asyncio.AbstractEventLoop, entries: dict[str, int]) -> dict[str, int]:
    """max.connections.per.ip.overrides by address: host names are resolved once, at start."""
    resolved: dict[str, int] = {}
    for host, limit in entries.items():
        try:
            infos = await loop.getaddrinfo(host, None)
        except OSError as exc:
            logger.warning("max.connections.per.ip.overrides: cannot resolve %s: %s", host, exc)
            continue
        for info in infos:
            resolved[str(info[4][0])] = limit
        resolved[host] = limit
    return resolved


def _resolve(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


async def _finish(request: Request, answer: Awaitable[Any]) -> Any:
    """The rest of a request its handler's synchronous path left to await (Server.handle)."""
    try:
        return await answer
    finally:
        request.done_ns = time.monotonic_ns()
