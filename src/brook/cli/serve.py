"""`brook serve`: run a broker in the foreground until SIGTERM or SIGINT (Ctrl-C)."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import sys
from pathlib import Path

import click

from brook import __version__


def _parse_override(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {value!r}", param_hint="--override")
        pairs.append((key.strip(), val.strip()))
    return pairs


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="server.properties file",
)
@click.option(
    "--override", "overrides", multiple=True, metavar="KEY=VALUE", help="Set a broker property (repeatable)"
)
@click.option("--host", default=None, help="Listen address (overrides listeners)")
@click.option("--port", type=int, default=None, help="Listen port, 0 for any free port (overrides listeners)")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (overrides log.dirs)",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def serve(
    config_file: Path | None,
    overrides: tuple[str, ...],
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    log_level: str,
) -> None:
    """Run a broker."""
    from brook.broker.config import BrokerConfig

    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    pairs = _parse_override(overrides)
    config = BrokerConfig.from_sources(config_file, pairs)
    extra: list[tuple[str, str]] = []
    if host is not None or port is not None:
        cur_host, cur_port = config.listener
        extra.append(("listeners", f"PLAINTEXT://{host or cur_host}:{cur_port if port is None else port}"))
    if data_dir is not None:
        extra.append(("log.dirs", str(data_dir)))
    if extra:
        config = BrokerConfig({**config.props, **dict(extra)})
    try:
        exit_code = _run(config)
    except KeyboardInterrupt:
        exit_code = 0
    sys.exit(exit_code)


def _run(config: object) -> int:
    import uvloop

    from brook.broker.app import Broker
    from brook.broker.config import BrokerConfig
    from brook.broker.meta_properties import LogDirOwnershipError
    from brook.common.errors import OutOfDescriptors

    assert isinstance(config, BrokerConfig)

    async def main() -> int:
        # Handlers go in before the ready line: a supervisor may send SIGTERM as soon as it sees it.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        broker = Broker(config)
        try:
            await broker.start()
        except LogDirOwnershipError as exc:
            click.echo(f"brook: {exc}", err=True)
            return 1
        except OutOfDescriptors as exc:
            # No close(): it would mark logs that were never loaded (or recovered) as cleanly shut down.
            click.echo(f"brook: {exc}; raise the open-files limit (ulimit -n, LimitNOFILE=)", err=True)
            return 1
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                host, port = config.listener
                click.echo(f"brook: cannot listen on {host}:{port}: the address is already in use", err=True)
                await asyncio.to_thread(broker.log_manager.close)
                return 1
            raise
        host, _ = config.listener
        click.echo(
            f"brook {__version__} ready on {host}:{broker.bound_port} "
            f"(data: {','.join(str(d) for d in broker.log_dirs)}, node {broker.node_id})",
        )
        sys.stdout.flush()
        await stop.wait()
        await broker.stop()
        return 0

    return uvloop.run(main())
