"""The console's web server (aiohttp): routes, server-sent events, templates, and starting/stopping.

Pages render from the sampler's newest snapshot, so they answer without waiting on the cluster; forms run
their cluster call in a worker thread with a timeout. Live parts of a page (`data-live`) are re-fetched by
static/console.js whenever /events announces a new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web

from brook.console.log_dirs import LogDirReader
from brook.console.sampler import Sampler
from brook.console.snapshot import MetricsEndpoints, Snapshot, take_snapshot

__all__ = ["Console", "ConsoleSettings", "build_app", "start_console"]

logger = logging.getLogger("brook.console")

_HERE = Path(__file__).parent
_T = TypeVar("_T")
_SLOW_CALL_S = 2.0
_THREADS = 8
CONSOLE_KEY: web.AppKey[Console] = web.AppKey("console")


@dataclass
class ConsoleSettings:
    bootstrap: str
    client_config: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8080
    interval_s: float = 2.0
    timeout_s: float = 10.0
    metrics: MetricsEndpoints = field(default_factory=MetricsEndpoints)  # bytes in/out per topic


class Console:
    """What the handlers share: the Kafka clients, the sampler and the templates."""

    def __init__(self, settings: ConsoleSettings) -> None:
        from confluent_kafka.admin import AdminClient

        self.settings = settings
        # librdkafka reports why it cannot connect (authentication, TLS) only to error_cb, served by poll()
        self.client_error: tuple[float, str] | None = None
        admin_config = self.kafka_config()
        admin_config["error_cb"] = self._on_client_error
        self.admin = AdminClient(admin_config)
        self.log_dirs = LogDirReader(settings.client_config)  # connections kept between samples
        self._producer: Any = None
        # the console's own threads: in a broker process the loop's default executor is the broker's
        # (fsync, ZooKeeper), and a slow cluster call must not hold those
        self.executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="brook-console")
        self.sampler = Sampler(
            self._take_snapshot,
            interval_s=settings.interval_s,
            timeout_s=settings.timeout_s,
            executor=self.executor,
        )
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["bytes"] = human_bytes
        self.templates.filters["rate"] = human_rate
        self.templates.filters["byte_rate"] = human_byte_rate

    def _on_client_error(self, error: Any) -> None:
        if error.name() != "_ALL_BROKERS_DOWN":  # the consequence, not the cause
            self.client_error = (time.monotonic(), f"{error.name()}: {error.str()}")

    def _take_snapshot(self) -> Snapshot:
        """One sample; when calls failed, the client's own latest error too (e.g. SASL authentication failed,
        which Metadata reports only as a transport failure)."""
        started = time.monotonic()
        snap = take_snapshot(
            self.admin, self.settings.timeout_s, log_dirs=self.log_dirs, metrics=self.settings.metrics
        )
        self.admin.poll(0)
        error = self.client_error
        if snap.errors and error is not None and error[0] >= started:
            snap.errors.append(f"client: {error[1]}")
        return snap

    def kafka_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.settings.bootstrap,
            "socket.connection.setup.timeout.ms": int(self.settings.timeout_s * 1000),
            "logger": logging.getLogger("brook.console.client"),
            **self.settings.client_config,
        }

    @property
    def producer(self) -> Any:
        if self._producer is None:
            from confluent_kafka import Producer

            self._producer = Producer({**self.kafka_config(), "linger.ms": 0})
        return self._producer

    async def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """A blocking cluster call in a worker thread, bounded in time (each client call inside also has
        timeout_s; this limit catches a client that hangs anyway)."""
        started = time.monotonic()
        try:
            return await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(
                    self.executor, functools.partial(fn, *args, **kwargs)
                ),
                timeout=self.settings.timeout_s * 3,
            )
        except TimeoutError:
            from brook.console.operations import ConsoleError

            raise ConsoleError(f"the cluster did not answer within {self.settings.timeout_s * 3:.0f} s")
        finally:
            took_s = time.monotonic() - started
            if took_s > _SLOW_CALL_S:
                logger.warning("console: %s took %.1f s", getattr(fn, "__name__", fn), took_s)

    async def render(
        self, request: web.Request, name: str, status: int = 200, **context: Any
    ) -> web.Response:
        """The whole page, or only its live block with ?fragment=1 (what console.js swaps in). Rendered in a
        worker thread: a 1,000-row table takes tens of milliseconds, and in a broker process this loop is
        the broker's."""
        template = self.templates.get_template(name)
        sampler = self.sampler
        context.update(
            snap=sampler.snapshot,
            sampler=sampler,
            cluster_error=sampler.error,
            notice=request.query.get("notice"),
            error=context.get("error") or request.query.get("error"),
            path=request.path,
        )
        fragment = request.query.get("fragment") == "1"

        def render() -> str:
            if fragment:
                return "".join(template.blocks["live"](template.new_context(context)))
            return template.render(context)

        text = await asyncio.get_running_loop().run_in_executor(self.executor, render)
        return web.Response(text=text, status=status, content_type="text/html")


def human_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def human_byte_rate(value: float | None) -> str:
    return "-" if value is None else f"{human_bytes(int(value))}/s"


def human_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}/s"


def redirect(location: str, **query: str) -> web.HTTPSeeOther:
    shown = {k: v for k, v in query.items() if v}
    return web.HTTPSeeOther(location + ("?" + urlencode(shown) if shown else ""))


@web.middleware
async def _same_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    """A form post must come from the console's own pages (the console changes the cluster)."""
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if request.headers.get("Sec-Fetch-Site") == "cross-site" or (
            origin and origin != "null" and urlsplit(origin).netloc != request.host
        ):
            raise web.HTTPForbidden(text="cross-site form posts are refused")
    response: web.StreamResponse = await handler(request)
    return response


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `snapshot` each time the sampler has a new one (and a comment to keep the
    stream open while nothing changes)."""
    console = request.app[CONSOLE_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    version = -1
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while True:
            new = await console.sampler.wait_for_change(version, timeout_s=15.0)
            if new == version:
                await response.write(b": idle\n\n")
                continue
            version = new
            snap = console.sampler.snapshot
            if snap is None:  # nothing sampled yet: nothing to show
                continue
            data = json.dumps({"version": version, "taken_at_s": snap.taken_at_s})
            await response.write(f"event: snapshot\ndata: {data}\n\n".encode())
    return response


def build_app(console: Console) -> web.Application:
    from brook.console import pages

    app = web.Application(middlewares=[_same_origin])
    app[CONSOLE_KEY] = console
    app.router.add_get("/events", _events)
    app.router.add_static("/static", _HERE / "static")
    pages.add_routes(app.router)

    async def stop_sampler(_app: web.Application) -> None:
        await console.sampler.stop()
        console.executor.shutdown(wait=False, cancel_futures=True)
        console.log_dirs.close()

    app.on_cleanup.append(stop_sampler)
    return app


async def start_console(settings: ConsoleSettings) -> tuple[web.AppRunner, Console, int]:
    """Start serving (sampler included); returns the runner (cleanup() stops it), the console and the
    bound port."""
    console = Console(settings)
    runner = web.AppRunner(build_app(console), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else settings.port
    console.sampler.start()
    return runner, console, port
