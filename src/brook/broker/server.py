"""The TCP side: accept connections, move bytes between sockets and the sans-IO protocol layer.

Each connection has a reader (parses requests, starts one task per request) and a writer (awaits
those tasks in arrival order and writes their responses), so responses keep request order while a
parked fetch does not stop the requests behind it from being processed. The number of requests
queued across all connections is bounded by `queued.max.requests`; a full queue stops reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from brook.broker.handlers.base import REGISTRY, RequestContext
from brook.protocol.connection import NeedData, RemoteProtocolError, Request, ServerConnection

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["Server"]

_READ_SIZE = 256 * 1024
_PER_CONNECTION_QUEUE = 64
_SHUTDOWN_GRACE_S = 5.0


class Server:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._global_slots = asyncio.Semaphore(max(1, broker.config.int("queued.max.requests")))
        self._max_request_bytes = broker.config.int("socket.request.max.bytes")

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, host, port, reuse_address=True, limit=_READ_SIZE
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        if self._connections:
            _, still_running = await asyncio.wait(self._connections, timeout=_SHUTDOWN_GRACE_S)
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.broker.stats.connections_accepted += 1
        peer = writer.get_extra_info("peername")
        try:
            await self._serve(reader, writer, peer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        conn = ServerConnection(
            max_request_bytes=self._max_request_bytes,
            supported={h.api_key: h.versions for h in REGISTRY.values()},
        )
        pending: asyncio.Queue[tuple[Request, asyncio.Task[Any]] | None] = asyncio.Queue(
            _PER_CONNECTION_QUEUE
        )
        write_loop = asyncio.create_task(self._write_responses(conn, writer, pending, peer))
        stop_wait = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set() and not write_loop.done():
                read = asyncio.create_task(reader.read(_READ_SIZE))
                done, _ = await asyncio.wait(
                    {read, stop_wait, write_loop}, return_when=asyncio.FIRST_COMPLETED
                )
                if read not in done:
                    read.cancel()
                    break
                data = read.result()
                conn.receive_data(data)
                if not data:
                    break
                while not isinstance(request := conn.next_request(), NeedData):
                    await self._global_slots.acquire()
                    task = asyncio.create_task(self._dispatch(request, peer))
                    await pending.put((request, task))
        except RemoteProtocolError as exc:
            self.broker.stats.connections_closed_for_protocol_errors += 1
            logger.warning("closing connection peer=%s: %s", peer, exc)
        except (ConnectionError, OSError) as exc:
            logger.debug("connection lost peer=%s: %r", peer, exc)
        finally:
            stop_wait.cancel()
            if not write_loop.done():
                await pending.put(None)
            with contextlib.suppress(Exception):
                await write_loop

    async def _write_responses(
        self,
        conn: ServerConnection,
        writer: asyncio.StreamWriter,
        pending: asyncio.Queue[tuple[Request, asyncio.Task[Any]] | None],
        peer: Any,
    ) -> None:
        failed = False
        while (item := await pending.get()) is not None:
            request, task = item
            try:
                body = await task
            except Exception:
                # A bug on our side: log it and close this connection; other clients never notice.
                logger.exception(
                    "handler failed api_key=%d peer=%s; closing connection", request.api_key, peer
                )
                failed = True
                writer.close()
                continue
            finally:
                self._global_slots.release()
            if body is None or failed:
                continue  # acks=0 produce: no response (or the connection is closing)
            writer.writelines(conn.send_response(request, body))
            if writer.transport.get_write_buffer_size() > 4 * _READ_SIZE:
                try:
                    await writer.drain()
                except (ConnectionError, OSError):
                    failed = True

    async def _dispatch(self, request: Request, peer: Any = None) -> Any:
        self.broker.stats.requests += 1
        handler = REGISTRY[request.api_key]
        logger.debug(
            "request api_key=%d v%d correlation_id=%d client_id=%s",
            request.api_key,
            request.api_version,
            request.correlation_id,
            request.client_id,
        )
        client_host = f"/{peer[0]}" if isinstance(peer, tuple) and peer else ""
        return await handler.func(RequestContext(self.broker, request, client_host), request.body)
