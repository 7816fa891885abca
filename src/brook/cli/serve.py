"""`brook serve`: run a broker in the foreground until SIGTERM or SIGINT (Ctrl-C)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import sys
from pathlib import Path

import click

from brook import __version__

logger = logging.getLogger("brook.cli.serve")

_LEFTOVER_TASKS_S = 5.0
# second-generation passes between full garbage collections (Python's default: 10); _freeze_start_up_objects
FULL_COLLECTION_THRESHOLD = 1000


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
        extra.append(("listeners", _first_listener_moved(config.get("listeners"), host, port)))
    if data_dir is not None:
        extra.append(("log.dirs", str(data_dir)))
    if extra:
        config = BrokerConfig({**config.props, **dict(extra)})
    if not _config_checked(config):
        _exit_now(1)
    try:
        exit_code = _run(config)
    except KeyboardInterrupt:
        exit_code = 0
    except Exception:  # a bug in the shutdown path: still exit, never linger with threads and a session
        logger.exception("broker failed")
        exit_code = 1
    _exit_now(exit_code)


def _first_listener_moved(listeners: str, host: str | None, port: int | None) -> str:
    """--host/--port move the first listener (keeping its name); the others stay as configured."""
    first, *rest = listeners.split(",")
    name, _, address = first.partition("://")
    cur_host, _, cur_port = address.rpartition(":")
    moved = f"{name}://{cur_host if host is None else host}:{cur_port if port is None else port}"
    return ",".join([moved, *rest])


def _config_checked(config: object) -> bool:
    """Kafka refuses to start on an invalid value: one line naming the key, the value and what is allowed.
    Unknown keys are logged (with the closest known key) and ignored."""
    from brook.broker.config import BrokerConfig, check_broker_props
    from brook.common.errors import InvalidConfig

    assert isinstance(config, BrokerConfig)
    from brook.broker.security import build_security

    try:
        warnings = check_broker_props(config.props)
        build_security(config)  # listeners, keystores, SASL users: refused before anything starts
    except InvalidConfig as exc:
        click.echo(f"brook: {exc}", err=True)
        return False
    for warning in warnings:
        logger.warning("%s", warning)
    return True


def _exit_now(code: int) -> None:
    """Leave now: flush the logs and streams, then end the process without joining leftover threads.

    Everything durable (logs, checkpoints, the clean-shutdown marker) and the ZooKeeper session were closed
    (each with a time limit) before this. An interpreter exit would join every worker thread of every
    ThreadPoolExecutor, so one stuck call (a ZooKeeper round trip, a slow disk) would keep a stopped broker
    alive, holding its port; os._exit does not wait."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _start_failure_message(config: object, exc: BaseException) -> str:
    from brook.broker.config import BrokerConfig
    from brook.common.errors import OutOfDescriptors

    assert isinstance(config, BrokerConfig)
    if isinstance(exc, OutOfDescriptors):
        return f"brook: {exc}; raise the open-files limit (ulimit -n, LimitNOFILE=)"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        host, port = config.listener
        return f"brook: cannot listen on {host}:{port}: the address is already in use ({exc.strerror})"
    return f"brook: failed to start: {type(exc).__name__}: {exc}"


def _run(config: object) -> int:
    import uvloop

    from brook.broker.config import BrokerConfig

    assert isinstance(config, BrokerConfig)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_main(config))
    finally:
        _close_loop(loop)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left and give it a moment; never wait for a task that ignores its cancellation (the
    default runner waits for every task without a limit, which kept failed brokers alive)."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.wait(tasks, timeout=_LEFTOVER_TASKS_S))
    with contextlib.suppress(Exception):
        loop.close()


async def _main(config: object) -> int:
    from brook.broker.app import Broker
    from brook.broker.config import BrokerConfig
    from brook.broker.meta_properties import LogDirOwnershipError
    from brook.cli.serve_console import maybe_start_console

    assert isinstance(config, BrokerConfig)
    # Handlers go in before the ready line: a supervisor may send SIGTERM as soon as it sees it.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        broker = Broker(config)  # connects to ZooKeeper, within zookeeper.connection.timeout.ms
    except Exception as build_error:
        logger.exception("broker could not be built")
        click.echo(_start_failure_message(config, build_error), err=True)
        return 1
    # Start-up builds objects that all live on (~430,000 at 10,000 partitions): the collector's automatic full
    # passes, each walking everything built so far, cost 10-20 % of such a start. They wait for the freeze.
    gc.disable()
    try:
        starting = asyncio.ensure_future(broker.start())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            # SIGTERM while starting (e.g. while a previous run's registration lingers): give up the start
            logger.info("stop requested while starting; abandoning the start")
            starting.cancel()
            await asyncio.wait({starting}, timeout=_LEFTOVER_TASKS_S)
            await broker.abort_start()
            return 0
        stopped.cancel()
        exc = starting.exception()
        if exc is not None:
            if isinstance(exc, LogDirOwnershipError):
                click.echo(f"brook: {exc}", err=True)
            else:
                if not isinstance(exc, OSError):
                    logger.error("start failed", exc_info=exc)
                click.echo(_start_failure_message(config, exc), err=True)
            await broker.abort_start()
            return 1
        host, _ = config.listener
        console = await maybe_start_console(broker)
        _freeze_start_up_objects()
    finally:
        gc.enable()
    click.echo(
        f"brook {__version__} ready on {host}:{broker.bound_port} "
        f"(data: {','.join(str(d) for d in broker.log_dirs)}, node {broker.node_id}, "
        f"listeners {','.join(f'{name}={port}' for name, port in broker.server.ports.items())})",
    )
    sys.stdout.flush()
    await stop.wait()
    if console is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(console.cleanup(), timeout=_LEFTOVER_TASKS_S)
    await broker.stop()
    return 0


def _freeze_start_up_objects() -> None:
    """What start-up built (modules, kio's classes, the hosted partitions: ~150,000 objects) lives as long as
    the broker: move it out of the garbage collector's generations (gc.freeze), so a full collection walks
    only what was made since, not everything, on the event loop (tens of ms of stall, a latency tail).

    What is made since still adds up: partitions created while the broker runs (~40 tracked objects each), and
    whatever a big request or metadata write held when a young collection ran. With 10,000 partitions created
    after start-up a full collection took 0.07-0.5 s on the event loop, and Python's default (the third
    threshold, 10) ran one every few metadata changes. Garbage cycles die young here (those passes found
    0-33 objects); the young generations, untouched, still collect them. So full passes are made 100 times
    rarer (FULL_COLLECTION_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
    logger.info("start-up objects frozen out of garbage collection count=%d", gc.get_freeze_count())
