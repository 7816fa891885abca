"""The listening socket, accepted by brook itself so that running out of descriptors only pauses it.

uvloop (libuv) handles EMFILE/ENFILE on accept by accepting and closing every pending connection (the
"emfile trick"), and when that is not possible reports the error to uvloop, which closes the listening
server for good: the broker then never accepts again. Kafka's Acceptor instead logs and keeps going. Here
accept() failing with EMFILE/ENFILE stops watching the socket for a while (100 ms doubling to 2 s) and
logs; pending connections wait in the kernel's backlog, existing connections are never touched, and
accepting resumes by itself once descriptors are free. Each accepted socket becomes an asyncio
transport through `loop.connect_accepted_socket`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

from brook.common.files import is_out_of_descriptors

__all__ = ["Acceptor"]

logger = logging.getLogger(__name__)

_BACKLOG = 1024
_ACCEPTS_PER_WAKEUP = 64
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 2.0
_TLS_HANDSHAKE_TIMEOUT_S = 10.0


class Acceptor:
    def __init__(
        self, protocol_factory: Callable[[], asyncio.BaseProtocol], ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._factory = protocol_factory
        self._ssl = ssl_context  # an SSL / SASL_SSL listener: the TLS handshake runs before connection_made
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backoff_s = 0.0
        self._resume_handle: asyncio.TimerHandle | None = None
        self._handshakes: set[asyncio.Task[None]] = set()
        self.accept_backoffs = 0  # times accept ran out of descriptors (for tests and metrics)

    async def start(self, host: str, port: int) -> int:
        """Bind and listen on every address of `host` ("" or "0.0.0.0"-style wildcards as asyncio's
        create_server does); returns the bound port."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, _, _, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and self._sockets:
                    address = (address[0], self._sockets[0].getsockname()[1], *address[2:])
                sock.bind(address)
                sock.listen(_BACKLOG)
                sock.setblocking(False)
            except OSError:
                sock.close()
                self.close()
                raise
            self._sockets.append(sock)
        self._watch()
        port_bound: int = self._sockets[0].getsockname()[1]
        return port_bound

    def _watch(self) -> None:
        assert self._loop is not None
        for sock in self._sockets:
            self._loop.add_reader(sock.fileno(), self._on_readable, sock)

    def _unwatch(self) -> None:
        assert self._loop is not None
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())

    def close(self) -> None:
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        if self._loop is not None:
            self._unwatch()
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def _on_readable(self, sock: socket.socket) -> None:
        loop = self._loop
        if loop is None or self._resume_handle is not None:
            return
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if is_out_of_descriptors(exc) or exc.errno in (errno.ENOBUFS, errno.ENOMEM):
                    self._back_off(exc)
                else:
                    logger.warning("accept failed: %s", exc)
                return
            self._backoff_s = 0.0
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self._connect(conn, peer))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _connect(self, conn: socket.socket, peer: object) -> None:
        assert self._loop is not None
        try:
            if self._ssl is None:
                await self._loop.connect_accepted_socket(self._factory, conn)
            else:
                await self._loop.connect_accepted_socket(
                    self._factory, conn, ssl=self._ssl, ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT_S
                )
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            # a failed TLS handshake: a client without the right certificate, or not speaking TLS
            logger.warning("TLS handshake failed peer=%s: %s", peer, exc)
            conn.close()
        except OSError as exc:
            logger.warning("cannot set up an accepted connection: %s", exc)
            conn.close()

    def _back_off(self, exc: OSError) -> None:
        assert self._loop is not None
        self._backoff_s = min(_MAX_BACKOFF_S, max(_FIRST_BACKOFF_S, self._backoff_s * 2))
        self.accept_backoffs += 1
        logger.warning(
            "accept paused for %.1f s: %s (raise the open-files limit or close idle connections; "
            "existing connections are served)",
            self._backoff_s,
            exc,
        )
        self._unwatch()
        self._resume_handle = self._loop.call_later(self._backoff_s, self._resume)

    def _resume(self) -> None:
        self._resume_handle = None
        if self._sockets:
            self._watch()
