"""How `brook consume` prints a record: JSON, a kcat-style template, or Kafka's DefaultMessageFormatter layout.

Pure functions over the slice of confluent_kafka.Message they read (key, value, topic, partition, offset,
timestamp, headers), so unit tests call them on plain objects.

Kafka's layout (`--property print.key=true` and friends) follows kafka-console-consumer.sh exactly: the chosen
fields in the order timestamp, partition, offset, headers, key, value, joined by key.separator (default a tab);
a null key or value prints null.literal (default `null`); headers print as `k:v` joined by headers.separator
(default `,`), or `NO_HEADERS` when a record has none.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import click

__all__ = [
    "FORMATTER_PROPERTIES",
    "KafkaLayout",
    "compile_template",
    "format_record",
    "kafka_layout",
    "parse_consumer_properties",
    "record_json",
    "renderer_for_format",
    "text_or_base64",
]

_BOOLEAN = ("print.timestamp", "print.key", "print.value", "print.partition", "print.offset", "print.headers")
_STRINGS = ("key.separator", "line.separator", "headers.separator", "null.literal")
# Properties of the console consumer that are not the formatter's but are accepted with --property too.
_CONSUMER = ("auto.offset.reset",)
FORMATTER_PROPERTIES = (*_BOOLEAN, *_STRINGS, *_CONSUMER)


@dataclass(frozen=True)
class KafkaLayout:
    print_timestamp: bool = False
    print_partition: bool = False
    print_offset: bool = False
    print_headers: bool = False
    print_key: bool = False
    print_value: bool = True
    key_separator: str = "\t"
    line_separator: str = "\n"
    headers_separator: str = ","
    null_literal: str = "null"


def parse_consumer_properties(pairs: Iterable[tuple[str, str]]) -> tuple[KafkaLayout | None, dict[str, str]]:
    """`--property` pairs → (Kafka's layout, or None when no formatter property was given; the other
    console-consumer properties). Unknown keys and non-boolean print.* values are usage errors."""
    layout: dict[str, Any] = {}
    other: dict[str, str] = {}
    for key, value in pairs:
        if key in _BOOLEAN:
            lowered = value.strip().lower()
            if lowered not in ("true", "false"):
                raise click.BadParameter(f"{key} takes true or false, got {value!r}", param_hint="--property")
            layout[key.replace(".", "_")] = lowered == "true"
        elif key in _STRINGS:
            layout[key.replace(".", "_")] = value
        elif key in _CONSUMER:
            other[key] = value
        else:
            raise click.BadParameter(
                f"unknown property {key!r} (known: {', '.join(FORMATTER_PROPERTIES)})",
                param_hint="--property",
            )
    return (KafkaLayout(**layout) if layout else None), other


def _data(data: bytes | None, null_literal: str) -> str:
    return null_literal if data is None else data.decode("utf-8", errors="replace")


def kafka_layout(layout: KafkaLayout, msg: Any) -> str:
    """One record as kafka-console-consumer.sh's DefaultMessageFormatter prints it."""
    fields: list[str] = []
    if layout.print_timestamp:
        ts_type, ts = msg.timestamp()
        name = {1: "CreateTime", 2: "LogAppendTime"}.get(ts_type)
        fields.append(f"{name}:{ts}" if name else "NO_TIMESTAMP")
    if layout.print_partition:
        fields.append(f"Partition:{msg.partition()}")
    if layout.print_offset:
        fields.append(f"Offset:{msg.offset()}")
    if layout.print_headers:
        headers = msg.headers() or []
        fields.append(
            layout.headers_separator.join(f"{k}:{_data(v, layout.null_literal)}" for k, v in headers)
            if headers
            else "NO_HEADERS"
        )
    if layout.print_key:
        fields.append(_data(msg.key(), layout.null_literal))
    if layout.print_value:
        fields.append(_data(msg.value(), layout.null_literal))
    if not fields:
        return ""
    return layout.key_separator.join(fields) + layout.line_separator


def renderer_for_format(fmt: str) -> Callable[[Any], str]:
    """--format: 'text' (the value, one per line), 'json' (one object per line) or a kcat-style template."""
    name = fmt.strip().lower()
    if name == "json":
        return lambda msg: json.dumps(record_json(msg), ensure_ascii=False) + "\n"
    if name == "text":
        fmt = "%s\\n"
    tokens = compile_template(fmt)
    if not any(is_field for is_field, _ in tokens):
        raise click.BadParameter(
            f"{fmt!r} is neither text, json nor a template with a %-field (%s value, %k key, ...)",
            param_hint="--format",
        )
    return lambda msg: format_record(tokens, msg)


def text_or_base64(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def record_json(msg: Any) -> dict[str, Any]:
    key, key_encoding = text_or_base64(msg.key())
    value, value_encoding = text_or_base64(msg.value())
    ts_type, ts = msg.timestamp()
    headers = []
    for hk, hv in msg.headers() or []:
        text, encoding = text_or_base64(hv)
        headers.append({"key": hk, "value": text, "value_encoding": encoding})
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts,
        "timestamp_type": {1: "CreateTime", 2: "LogAppendTime"}.get(ts_type),
        "key": key,
        "key_encoding": key_encoding,
        "value": value,
        "value_encoding": value_encoding,
        "headers": headers,
    }


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "0": "\0"}
_FIELDS = set("kKsStpoTh%")


def compile_template(template: str) -> list[tuple[bool, str]]:
    """Split a kcat-style template into (is_field, text) tokens; a template without a newline gets one."""
    tokens: list[tuple[bool, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        nxt = template[i + 1] if i + 1 < len(template) else ""
        if ch == "\\" and nxt in _ESCAPES:
            literal.append(_ESCAPES[nxt])
            i += 2
        elif ch == "%" and nxt in _FIELDS:
            if nxt == "%":
                literal.append("%")
            else:
                if literal:
                    tokens.append((False, "".join(literal)))
                    literal = []
                tokens.append((True, nxt))
            i += 2
        else:
            literal.append(ch)
            i += 1
    if literal:
        tokens.append((False, "".join(literal)))
    if not any(not is_field and "\n" in text for is_field, text in tokens):
        tokens.append((False, "\n"))
    return tokens


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")


def _field(code: str, msg: Any) -> str:
    if code == "k":
        return _text(msg.key())
    if code == "s":
        return _text(msg.value())
    if code == "K":
        return str(-1 if msg.key() is None else len(msg.key()))
    if code == "S":
        return str(-1 if msg.value() is None else len(msg.value()))
    if code == "t":
        return str(msg.topic())
    if code == "p":
        return str(msg.partition())
    if code == "o":
        return str(msg.offset())
    if code == "T":
        return str(msg.timestamp()[1])
    # %h: kcat prints headers as k=v pairs separated by commas
    return ",".join(f"{k}={_text(v)}" for k, v in msg.headers() or [])


def format_record(tokens: list[tuple[bool, str]], msg: Any) -> str:
    return "".join(_field(text, msg) if is_field else text for is_field, text in tokens)
