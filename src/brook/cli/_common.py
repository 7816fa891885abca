"""Shared plumbing for the client subcommands: connection options, error reporting, output formats.

Every client command takes `-b/--bootstrap-server` (env `BROOK_BOOTSTRAP`), `-X key=value` (librdkafka
configuration), `--debug`, and listings take `--format text|json|yaml`. These options are stored in
`ctx.meta`, which click shares across the whole context tree, so a subcommand and its group see the same values.

confluent_kafka is imported inside functions only: `brook --help` must stay fast.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

__all__ = [
    "CliError",
    "Settings",
    "admin_client",
    "client_options",
    "describe_kafka_error",
    "emit",
    "exit_if_failed",
    "format_option",
    "kafka_config",
    "parse_key_values",
    "render_table",
    "settings",
    "to_yaml",
    "topic_names",
]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 15.0

F = TypeVar("F", bound=Callable[..., Any])

_META_BOOTSTRAP = "brook.bootstrap"
_META_CONFIG = "brook.client_config"
_META_DEBUG = "brook.debug"
_META_FORMAT = "brook.format"


class CliError(click.ClickException):
    """A user-facing failure: one readable line on stderr, exit code 1 (the traceback only with --debug)."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"brook: {self.format_message()}", err=True)


@dataclass(frozen=True)
class Settings:
    bootstrap: str
    client_config: dict[str, str]
    debug: bool
    output: str


def settings() -> Settings:
    ctx = click.get_current_context()
    meta = ctx.meta
    return Settings(
        bootstrap=meta.get(_META_BOOTSTRAP) or DEFAULT_BOOTSTRAP,
        client_config=dict(meta.get(_META_CONFIG) or {}),
        debug=bool(meta.get(_META_DEBUG)),
        output=meta.get(_META_FORMAT) or "text",
    )


def parse_key_values(values: Iterable[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {value!r}", param_hint=option)
        pairs.append((key.strip(), val))
    return pairs


def _store(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if key == _META_CONFIG:
            if value:
                merged = dict(ctx.meta.get(_META_CONFIG) or {})
                merged.update(parse_key_values(value, "-X"))
                ctx.meta[key] = merged
        elif key == _META_DEBUG:
            if value:
                ctx.meta[key] = True
                _enable_debug_logging()
        elif value is not None:
            ctx.meta[key] = value
        return value

    return callback


def _store_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Java-style properties: key=value lines; '#' and '!' start comments."""
    if not value:
        return
    pairs = []
    with open(value, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if line and not line.startswith(("#", "!")):
                pairs.append(line)
    loaded = dict(parse_key_values(pairs, "--command-config"))
    ctx.meta[_META_CONFIG] = {**loaded, **(ctx.meta.get(_META_CONFIG) or {})}


def client_options(func: F) -> F:
    """Options every command that talks to a broker accepts."""
    func = click.option(
        "-b",
        "--bootstrap-server",
        "--brokers",
        metavar="HOST:PORT",
        envvar="BROOK_BOOTSTRAP",
        expose_value=False,
        is_eager=True,
        callback=_store(_META_BOOTSTRAP),
        help=f"Broker to connect to (env BROOK_BOOTSTRAP, default {DEFAULT_BOOTSTRAP})",
    )(func)
    func = click.option(
        "--command-config",
        "--consumer.config",
        "--producer.config",
        "command_config",
        metavar="FILE",
        type=click.Path(exists=True, dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_store_file,
        help="Client properties file (Kafka's flag; also --consumer.config/--producer.config); -X wins over it",
    )(func)
    func = click.option(
        "-X",
        "--producer-property",
        "--consumer-property",
        "client_config",
        metavar="KEY=VALUE",
        multiple=True,
        expose_value=False,
        is_eager=True,
        callback=_store(_META_CONFIG),
        help="librdkafka client configuration (repeatable), e.g. -X client.id=me",
    )(func)
    return debug_option(func)


def debug_option(func: F) -> F:
    return click.option(
        "--debug",
        is_flag=True,
        default=False,
        expose_value=False,
        is_eager=True,
        callback=_store(_META_DEBUG),
        help="Show tracebacks and client logs",
    )(func)


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "-o",
        "output_format",
        type=click.Choice(["text", "json", "yaml"]),
        default=None,
        expose_value=False,
        callback=_store(_META_FORMAT),
        help="Output format (default text)",
    )(func)


def _enable_debug_logging() -> None:
    logger = logging.getLogger("brook.cli.client")
    if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _client_logger() -> logging.Logger:
    """librdkafka logs go here; silent unless --debug (a refused connection is reported once, by us)."""
    logger = logging.getLogger("brook.cli.client")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def kafka_config(st: Settings, **extra: Any) -> dict[str, Any]:
    """librdkafka configuration: ours first, then the user's -X pairs win."""
    config: dict[str, Any] = {
        "bootstrap.servers": st.bootstrap,
        "logger": _client_logger(),
        "socket.connection.setup.timeout.ms": int(CONNECT_TIMEOUT_S * 1000),
    }
    config.update(extra)
    config.update(st.client_config)
    return config


def unreachable(st: Settings) -> CliError:
    return CliError(f"cannot reach a broker at {st.bootstrap}")


def admin_client(st: Settings) -> Any:
    """An AdminClient that has answered one metadata request (else: 'cannot reach a broker')."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(kafka_config(st))
    check_reachable(admin, st)
    return admin


def check_reachable(client: Any, st: Settings) -> Any:
    """Ask for cluster metadata; a client that cannot get it within a few seconds means no broker."""
    from confluent_kafka import KafkaException

    try:
        return client.list_topics(timeout=CONNECT_TIMEOUT_S)
    except KafkaException as exc:
        raise unreachable(st) from exc


def results_by_name(
    futures: dict[str, Any],
    names: list[str],
    *,
    key: str,
    fine_codes: tuple[int, ...] = (),
    fine_status: str = "OK",
) -> list[dict[str, Any]]:
    """One `{key: name, status, error}` row per name from an AdminClient call's futures; an error whose
    code is in `fine_codes` (e.g. TOPIC_ALREADY_EXISTS with --if-not-exists) is no failure: its status is
    `fine_status` (which says that nothing was done)."""
    from confluent_kafka import KafkaException

    rows = []
    for name in names:
        try:
            futures[name].result(timeout=20)
            rows.append({key: name, "status": "OK", "error": None})
        except KafkaException as exc:
            if exc.args and exc.args[0].code() in fine_codes:
                rows.append({key: name, "status": fine_status, "error": None})
            else:
                rows.append({key: name, "status": "FAILED", "error": describe_kafka_error(exc)})
    return rows


def emit_status_table(results: list[dict[str, Any]], key: str) -> None:
    """A NAME/STATUS result table (a row's error in place of its status), then `exit_if_failed`."""
    emit(
        results,
        lambda: render_table(
            [key.upper(), "STATUS"],
            [(r[key], r["status"] if r["error"] is None else r["error"]) for r in results],
        ),
    )
    exit_if_failed(results, key)


def exit_if_failed(results: list[dict[str, Any]], key: str) -> None:
    """After a result table: each failed row once more on stderr (`brook: NAME: error`), then exit 1."""
    failed = [r for r in results if r.get("error") is not None]
    for row in failed:
        click.echo(f"brook: {row[key]}: {row['error']}", err=True)
    if failed:
        raise click.exceptions.Exit(1)


def describe_kafka_error(exc: BaseException) -> str:
    """One line for a KafkaException/KafkaError: the broker's own message where it sent one."""
    from confluent_kafka import KafkaError, KafkaException

    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    if isinstance(err, KafkaError):
        text = err.str()
        name = err.name()
        if name and name not in text:
            return f"{text} ({name})"
        return text
    return str(exc)


def result_of(future: Any, what: str) -> Any:
    """Wait for an admin future; a KafkaException becomes '<what>: <broker message>'."""
    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=REQUEST_TIMEOUT_S)
    except KafkaException as exc:
        raise CliError(f"{what}: {describe_kafka_error(exc)}") from exc


def is_unsupported(exc: BaseException) -> bool:
    """True when the broker does not implement the API the client needed."""
    from confluent_kafka import KafkaError, KafkaException

    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, KafkaError):
        return err.code() in (KafkaError._UNSUPPORTED_FEATURE, KafkaError.UNSUPPORTED_VERSION)
    if isinstance(exc, CliError):
        text = exc.format_message()
        return "not supported" in text.lower() or "unsupported" in text.lower()
    return False


def topic_names(positional: Sequence[str], flagged: Sequence[str] | str | None) -> list[str]:
    """Topics given as arguments (rpk) and as --topic (Kafka's scripts), in order, without duplicates."""
    names = list(positional)
    if isinstance(flagged, str):
        names.append(flagged)
    elif flagged:
        names.extend(flagged)
    return list(dict.fromkeys(names))


# -- output -----------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) if value else "-"
    return str(value)


def render_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, gap: int = 2) -> str:
    """Plain aligned columns (no box drawing), so `awk` and `cut` keep working on the output."""
    text_rows = [[_cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(columns), *text_rows]:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append((" " * gap).join(padded).rstrip())
    return "\n".join(lines)


def emit(doc: Any, text: Callable[[], str] | str) -> None:
    """Print `doc` as JSON or YAML, or the text rendering, per --format."""
    fmt = settings().output
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, sort_keys=False))
    elif fmt == "yaml":
        click.echo(to_yaml(doc), nl=False)
    else:
        out = text() if callable(text) else text
        if out:
            click.echo(out)


# A tiny YAML emitter: PyYAML is not a dependency and listings only hold dicts, lists and scalars.
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./\-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines = []
        for key, item in value.items():
            head = f"{pad}{_yaml_scalar(str(key))}:"
            if isinstance(item, Mapping | list | tuple) and item:
                lines.append(head)
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append(f"{head} {_yaml_inline(item)}")
        return lines
    if isinstance(value, list | tuple):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            if isinstance(item, Mapping | list | tuple) and item:
                nested = _yaml_lines(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{pad}- {_yaml_inline(item)}")
        return lines
    return [pad + _yaml_scalar(value)]


def _yaml_inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _yaml_scalar(value)


def to_yaml(doc: Any) -> str:
    return "\n".join(_yaml_lines(doc, 0)) + "\n"
