"""How `brook produce` turns an input line into a record: kafka-console-producer.sh's LineMessageReader rules.

A line is `[HEADERS<headers.delimiter>][KEY<key.separator>]VALUE`, the headers part only with
`parse.headers=true` and the key part only with `parse.key=true` (or brook's --key-separator). Headers are
`k<headers.key.separator>v` pairs split by headers.separator (a regular expression, as in Kafka). A key,
value or header value equal to null.marker becomes null. Defaults: key.separator and headers.delimiter a tab,
headers.separator `,`, headers.key.separator `:`. Bytes in, bytes out: lines need not be UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import click

__all__ = ["PRODUCER_PROPERTIES", "LineFormat", "LineRecord", "line_format", "parse_line"]

_BOOLEAN = ("parse.key", "parse.headers", "ignore.error")
_STRINGS = ("key.separator", "headers.delimiter", "headers.separator", "headers.key.separator", "null.marker")
PRODUCER_PROPERTIES = (*_BOOLEAN, *_STRINGS)


@dataclass(frozen=True)
class LineFormat:
    key_separator: bytes | None = None  # None: the line has no key part
    parse_headers: bool = False
    headers_delimiter: bytes = b"\t"
    headers_separator: bytes = b","
    headers_key_separator: bytes = b":"
    null_marker: bytes | None = None
    ignore_error: bool = False


@dataclass(frozen=True)
class LineRecord:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def line_format(pairs: Iterable[tuple[str, str]], key_separator: str | None) -> LineFormat:
    """--property pairs (and --key-separator, which implies parse.key) → the line format. Unknown keys,
    non-boolean parse.* values and ambiguous separators are usage errors."""
    props: dict[str, str] = {}
    for key, value in pairs:
        if key not in PRODUCER_PROPERTIES:
            raise click.BadParameter(
                f"unknown property {key!r} (known: {', '.join(PRODUCER_PROPERTIES)})", param_hint="--property"
            )
        if key in _BOOLEAN and value.strip().lower() not in ("true", "false"):
            raise click.BadParameter(f"{key} takes true or false, got {value!r}", param_hint="--property")
        props[key] = value

    def on(name: str) -> bool:
        return props.get(name, "false").strip().lower() == "true"

    sep: str | None = None
    if key_separator:
        sep = key_separator
    elif on("parse.key"):
        sep = props.get("key.separator", "\t")
    fmt = LineFormat(
        key_separator=None if sep is None else sep.encode(),
        parse_headers=on("parse.headers"),
        headers_delimiter=props.get("headers.delimiter", "\t").encode(),
        headers_separator=props.get("headers.separator", ",").encode(),
        headers_key_separator=props.get("headers.key.separator", ":").encode(),
        null_marker=props["null.marker"].encode() if "null.marker" in props else None,
        ignore_error=on("ignore.error"),
    )
    named = {
        "key.separator": fmt.key_separator,
        "headers.separator": fmt.headers_separator,
        "headers.delimiter": fmt.headers_delimiter,
        "headers.key.separator": fmt.headers_key_separator,
    }
    checks = [("headers.delimiter", "headers.separator"), ("headers.delimiter", "headers.key.separator")]
    checks += [("headers.separator", "headers.key.separator")]
    for a, b in checks:
        if fmt.parse_headers and named[a] == named[b]:
            raise click.BadParameter(f"{a} and {b} may not be equal", param_hint="--property")
    if fmt.null_marker is not None:
        for name, separator in named.items():
            if separator == fmt.null_marker:
                raise click.BadParameter(f"null.marker and {name} may not be equal", param_hint="--property")
    return fmt


class LineError(ValueError):
    """A line that does not have the parts the format asks for (message like Kafka's)."""


def _part(line: bytes, start: int, marker: bytes, what: str, number: int, fmt: LineFormat) -> bytes | None:
    index = line.find(marker, start)
    if index == -1:
        if fmt.ignore_error:
            return None
        raise LineError(f"no {what} found on line number {number}: {line[:60]!r}")
    return line[start:index]


def parse_line(line: bytes, number: int, fmt: LineFormat) -> LineRecord:
    """One input line (without its line ending) → key, value and headers."""
    start = 0
    headers: list[tuple[str, bytes | None]] = []
    if fmt.parse_headers:
        raw = _part(line, 0, fmt.headers_delimiter, "headers delimiter", number, fmt)
        if raw is not None:
            start = len(raw) + len(fmt.headers_delimiter)
            if raw != fmt.null_marker:
                headers = _headers(raw, number, fmt)
    key = None
    if fmt.key_separator is not None:
        key = _part(line, start, fmt.key_separator, "key separator", number, fmt)
        if key is not None:
            start += len(key) + len(fmt.key_separator)
    value: bytes | None = line[start:]
    if key is not None and key == fmt.null_marker:
        key = None
    if value == fmt.null_marker:
        value = None
    return LineRecord(key, value, headers)


def _headers(raw: bytes, number: int, fmt: LineFormat) -> list[tuple[str, bytes | None]]:
    pairs = re.split(fmt.headers_separator, raw)
    while pairs and not pairs[-1]:  # Java's String.split drops trailing empty strings
        pairs.pop()
    headers: list[tuple[str, bytes | None]] = []
    for pair in pairs:
        index = pair.find(fmt.headers_key_separator)
        if index == -1:
            if fmt.ignore_error:
                headers.append((pair.decode("utf-8", errors="replace"), None))
                continue
            raise LineError(f"no header key separator found in pair {pair!r} on line number {number}")
        name = pair[:index]
        if name == fmt.null_marker:
            raise LineError(f"header keys may not equal the null marker {name!r} (line number {number})")
        value = pair[index + len(fmt.headers_key_separator) :]
        headers.append((name.decode("utf-8", errors="replace"), None if value == fmt.null_marker else value))
    return headers
