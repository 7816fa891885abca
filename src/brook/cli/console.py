"""`brook console`: the web console for any Kafka-compatible cluster, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from brook.cli._common import client_options, settings

__all__ = ["console"]


@click.command()
@client_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve the console on")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to serve on (0: any free port)")
@click.option(
    "--interval", "interval_s", type=float, default=2.0, show_default=True, help="Seconds between samples"
)
@click.option(
    "--timeout", "timeout_s", type=float, default=10.0, show_default=True, help="Seconds per cluster call"
)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Read bytes in/out per topic from http://<each broker's host>:PORT/metrics (Prometheus)",
)
@click.option(
    "--metrics-url",
    "metrics_urls",
    multiple=True,
    help="A broker's Prometheus metrics URL to read bytes in/out per topic from (repeat for each broker)",
)
def console(
    host: str,
    port: int,
    interval_s: float,
    timeout_s: float,
    metrics_port: int | None,
    metrics_urls: tuple[str, ...],
) -> None:
    """Serve the web console (overview, topics, messages, consumer groups)."""
    from brook.console import ConsoleSettings
    from brook.console.snapshot import MetricsEndpoints

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    st = settings()
    config = ConsoleSettings(
        bootstrap=st.bootstrap,
        client_config=st.client_config,
        host=host,
        port=port,
        interval_s=interval_s,
        timeout_s=timeout_s,
        metrics=MetricsEndpoints(metrics_urls, metrics_port),
    )
    asyncio.run(_serve(config))


async def _serve(config: object) -> None:
    from brook.console import ConsoleSettings, start_console

    assert isinstance(config, ConsoleSettings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner, _, port = await start_console(config)
    click.echo(f"brook console on http://{config.host}:{port}/ (cluster {config.bootstrap})")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
