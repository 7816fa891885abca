"""TCP proxies whose links a test can cut and heal: network partitions without root, iptables or namespaces.

Each proxy fronts one endpoint (a broker's listener, or ZooKeeper for one broker) and knows, for every
connection it accepts, which endpoint opened it: a fixed source (a proxy that only one broker uses), or the
local process that holds the connecting socket (see socket_owner), named by a callback. Anything else is
`"client"`.

Cutting the link between two endpoints freezes every connection between them, in both directions, like a
network that drops packets: the proxy stops forwarding (bytes it already read wait in the proxy), so both
peers see silence, their TCP buffers fill, and their own timeouts decide what happens. A connection opened
across a cut link is accepted and held, and reaches its upstream only after the link heals. Healing resumes
every frozen connection where it stopped, as TCP retransmission would.

All proxies share one asyncio loop in a daemon thread; the public methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from brook.testing.socket_owner import connection_owner

__all__ = ["CLIENT", "FaultNetwork"]

CLIENT = "client"
_CHUNK_BYTES = 65_536
_CONNECT_TIMEOUT_S = 10.0
_T = TypeVar("_T")


@dataclass
class _Proxy:
    endpoint: str  # what the proxy fronts, e.g. "broker-1" or "zookeeper"
    source: str | None  # every connection comes from this endpoint, or None: identify each one
    upstream: tuple[str, int] | None
    server: asyncio.Server | None = None
    address: tuple[str, int] = ("", 0)


@dataclass(eq=False)
class _Connection:
    proxy: _Proxy
    peer: tuple[str, int]
    source: str | None = None  # None until identified
    open: asyncio.Event = field(default_factory=asyncio.Event)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class FaultNetwork:
    """Proxies by name, and the set of cut links between endpoints.

    net = FaultNetwork(sources=lambda: {broker.process.pid: "broker-1"})
    port = net.add_proxy("broker-2", upstream=("127.0.0.1", 9093))
    net.cut("broker-1", "broker-2"); ...; net.heal()
    """

    def __init__(self, sources: Callable[[], Mapping[int, str]] = dict, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sources = sources
        self._proxies: list[_Proxy] = []
        self._connections: set[_Connection] = set()
        self._cut: set[frozenset[str]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-network", daemon=True)
        self._thread.start()
        self._closed = False

    # ---- public, thread-safe -------------------------------------------------------------------------------

    def add_proxy(
        self, endpoint: str, upstream: tuple[str, int] | None = None, source: str | None = None
    ) -> int:
        """Listen on a free port of `host` in front of `endpoint` (its address may come later, through
        set_upstream); returns the port. With `source`, every connection counts as coming from it."""
        proxy = _Proxy(endpoint, source, upstream)
        self._run(self._listen(proxy))
        return proxy.address[1]

    def set_upstream(self, port: int, upstream: tuple[str, int]) -> None:
        def update() -> None:
            self._proxy_on(port).upstream = upstream

        self._call(update)

    def cut(self, a: str, b: str) -> None:
        """Freeze every connection between endpoints a and b, both ways, until heal()."""
        if a == b:
            raise ValueError(f"cannot cut {a} from itself")

        def update() -> None:
            self._cut.add(frozenset((a, b)))
            self._apply()

        self._call(update)

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Restore one link (a, b), or every link when called without arguments."""

        def update() -> None:
            if a is None or b is None:
                self._cut.clear()
            else:
                self._cut.discard(frozenset((a, b)))
            self._apply()

        self._call(update)

    def cut_links(self) -> set[frozenset[str]]:
        return self._call(lambda: set(self._cut))

    def connections(self) -> list[tuple[str, str, bool]]:
        """(source, endpoint, flowing) of every connection through the proxies; source None: not identified."""
        return self._call(
            lambda: [(c.source or "?", c.proxy.endpoint, c.open.is_set()) for c in self._connections]
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            self._run(self._shutdown(), timeout_s=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    # ---- on the loop -------------------------------------------------------------------------------------

    def _run(self, coro: Any, timeout_s: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def _call(self, fn: Callable[[], _T]) -> _T:
        async def call() -> _T:
            return fn()

        result: _T = self._run(call())
        return result

    def _proxy_on(self, port: int) -> _Proxy:
        for proxy in self._proxies:
            if proxy.address[1] == port:
                return proxy
        raise KeyError(f"no proxy on port {port}")

    async def _listen(self, proxy: _Proxy) -> None:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # ends without CancelledError when close() cancels it: Python 3.11's stream server logs a cancelled
            # handler task as an "Exception in callback" traceback (its done callback calls task.exception())
            with contextlib.suppress(asyncio.CancelledError):
                await self._serve(proxy, reader, writer)

        proxy.server = await asyncio.start_server(accepted, self.host, 0)
        proxy.address = proxy.server.sockets[0].getsockname()[:2]
        self._proxies.append(proxy)

    def _identify(self, conn: _Connection) -> None:
        if conn.source is not None:
            return
        if conn.proxy.source is not None:
            conn.source = conn.proxy.source
            return
        names = dict(self._sources())
        pid = connection_owner(conn.peer, conn.proxy.address, names)
        conn.source = names[pid] if pid is not None else CLIENT

    def _is_cut(self, conn: _Connection) -> bool:
        if not any(conn.proxy.endpoint in link for link in self._cut):
            return False
        self._identify(conn)
        assert conn.source is not None
        return frozenset((conn.source, conn.proxy.endpoint)) in self._cut

    def _apply(self) -> None:
        for conn in self._connections:
            if self._is_cut(conn):
                conn.open.clear()
            else:
                conn.open.set()

    async def _serve(self, proxy: _Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(proxy, writer.get_extra_info("peername")[:2], writers=[writer])
        self._connections.add(conn)
        try:
            if not self._is_cut(conn):
                conn.open.set()
            await conn.open.wait()  # held while the link is cut
            if proxy.upstream is None:
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*proxy.upstream), _CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                return  # the endpoint is down: the client sees its connection close
            conn.writers.append(up_writer)
            pumps = [
                asyncio.create_task(self._pump(conn, reader, up_writer)),
                asyncio.create_task(self._pump(conn, up_reader, writer)),
            ]
            _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            self._connections.discard(conn)
            for w in conn.writers:
                w.close()

    @staticmethod
    async def _pump(conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction; a chunk read while the link is cut waits in the proxy until it heals."""
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(_CHUNK_BYTES):
                await conn.open.wait()
                writer.write(data)
                await writer.drain()

    async def _shutdown(self) -> None:
        for proxy in self._proxies:
            if proxy.server is not None:
                proxy.server.close()
        for conn in list(self._connections):
            conn.open.set()
            for w in conn.writers:
                w.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
