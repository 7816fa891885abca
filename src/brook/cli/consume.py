"""`brook consume TOPIC...`: print records (like kafka-console-consumer.sh, `rpk topic consume`, kcat -C).

Without --group the partitions are assigned directly and nothing is committed, so no consumer group is
needed on the broker. With --group the topics are subscribed through the group and offsets are committed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import select
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from brook.cli._common import (
    CliError,
    check_reachable,
    client_options,
    describe_kafka_error,
    kafka_config,
    settings,
    topic_names,
)

__all__ = ["consume", "format_record", "parse_timestamp", "record_json", "text_or_base64"]

_EARLIEST = {"earliest", "beginning", "start", "oldest"}
_LATEST = {"latest", "end", "newest"}


@click.command()
@click.argument("topics", nargs=-1)
@click.option(
    "--topic", "-t", "topic_opts", multiple=True, metavar="TOPIC", help="Topic (Kafka's flag; repeatable)"
)
@click.option(
    "--from-beginning", is_flag=True, help="Start at the earliest offset (without a committed offset)"
)
@click.option(
    "--offset",
    "-O",
    default=None,
    help="Start offset: a number, -N for N before the end, 'earliest' or 'latest'",
)
@click.option(
    "--timestamp", default=None, help="Start at the first record at or after this time (ms or ISO-8601)"
)
@click.option(
    "--partition", "-p", "partitions", type=int, multiple=True, help="Only these partitions (repeatable)"
)
@click.option("--group", "-g", default=None, help="Consume as this consumer group and commit offsets")
@click.option(
    "--count", "--max-messages", "-n", "-c", "count", type=int, default=None, help="Exit after N records"
)
@click.option("--exit-at-end", "-e", is_flag=True, help="Exit when every partition has been read to its end")
@click.option(
    "--timeout-ms",
    type=int,
    default=None,
    help="Exit when no record arrived for this long (kafka-console-consumer)",
)
@click.option(
    "--format",
    "-f",
    "template",
    default="%s\\n",
    show_default=True,
    help="'json', or a kcat-style template: %k key, %s value, %t topic, %p partition, %o offset, %T timestamp, "
    "%h headers, %K/%S key/value length",
)
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="kafka-console-consumer.sh formatter properties: print.key, print.timestamp, print.partition, "
    "print.offset, print.headers (=true), key.separator",
)
@client_options
def consume(
    topics: tuple[str, ...],
    topic_opts: tuple[str, ...],
    from_beginning: bool,
    offset: str | None,
    timestamp: str | None,
    partitions: tuple[int, ...],
    group: str | None,
    count: int | None,
    exit_at_end: bool,
    timeout_ms: int | None,
    template: str,
    properties: tuple[str, ...],
) -> None:
    """Print records from TOPICs, one per line."""
    from confluent_kafka import Consumer

    names = topic_names(topics, topic_opts)
    if not names:
        raise click.UsageError("name at least one topic (as an argument or with --topic)")
    starts = [x for x in (from_beginning, offset is not None, timestamp is not None) if x]
    if len(starts) > 1:
        raise click.UsageError("give at most one of --from-beginning, --offset, --timestamp")
    render = _renderer(_template_from_properties(properties) if properties else template)
    st = settings()
    config = kafka_config(
        st,
        **{
            "group.id": group or "brook-cli-consume",
            "enable.auto.commit": group is not None,
            "enable.auto.offset.store": group is not None,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.partition.eof": exit_at_end,
            "allow.auto.create.topics": False,
        },
    )
    consumer = Consumer(config)
    try:
        check_reachable(consumer, st)
        if group is not None and not partitions and offset is None and timestamp is None:
            consumer.subscribe(names)
        else:
            consumer.assign(_assignment(consumer, st, names, partitions, offset, timestamp, from_beginning))
        seen = _loop(consumer, render, count, exit_at_end, timeout_ms)
    finally:
        consumer.close()
    click.echo(f"Processed a total of {seen} messages", err=True)


def _loop(
    consumer: Any, render: Callable[[Any], str], count: int | None, exit_at_end: bool, timeout_ms: int | None
) -> int:
    from confluent_kafka import KafkaError

    seen = 0
    at_end: set[tuple[str, int]] = set()
    last = time.monotonic()
    out = sys.stdout
    try:
        while count is None or seen < count:
            msg = consumer.poll(0.2)
            if msg is None:
                if _reader_gone(out):
                    break
                if timeout_ms is not None and (time.monotonic() - last) * 1000 >= timeout_ms:
                    break
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add((msg.topic(), msg.partition()))
                    if exit_at_end and _all_at_end(consumer, at_end):
                        break
                    continue
                if err.fatal() or err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                    raise CliError(describe_kafka_error(err))
                if settings().debug:
                    click.echo(f"brook: {describe_kafka_error(err)} (retrying)", err=True)
                continue  # transient: librdkafka retries by itself
            at_end.discard((msg.topic(), msg.partition()))
            last = time.monotonic()
            out.write(render(msg))
            out.flush()
            seen += 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # `brook consume ... | head`: the reader is gone, which is a normal way to stop. Point stdout at
        # /dev/null so the interpreter's final flush does not complain about the pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return seen


def _reader_gone(out: Any) -> bool:
    """True when stdout is a pipe whose reader has closed it (poll reports POLLERR on the write end)."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: only POLLERR/POLLHUP/POLLNVAL come back
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _all_at_end(consumer: Any, at_end: set[tuple[str, int]]) -> bool:
    assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
    return bool(assigned) and assigned <= at_end


def _assignment(
    consumer: Any,
    st: Any,
    names: list[str],
    partitions: tuple[int, ...],
    offset: str | None,
    timestamp: str | None,
    from_beginning: bool,
) -> list[Any]:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    if offset is not None:
        start = _parse_offset(offset)
    tps: list[TopicPartition] = []
    for name in names:
        metadata = consumer.list_topics(name, timeout=10)
        t = metadata.topics.get(name)
        if t is None or t.error is not None:
            detail = (
                describe_kafka_error(t.error) if t is not None and t.error is not None else "unknown topic"
            )
            raise CliError(f"{name}: {detail}")
        available = sorted(t.partitions)
        chosen = list(partitions) or available
        missing = [p for p in chosen if p not in t.partitions]
        if missing:
            raise CliError(f"{name} has no partition {missing[0]} (partitions: 0-{len(available) - 1})")
        tps.extend(TopicPartition(name, p, start) for p in chosen)
    if timestamp is not None:
        ts_ms = parse_timestamp(timestamp)
        found = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, ts_ms) for tp in tps], timeout=10
        )
        # No record at or after the time: start at the end, like Kafka's console consumer.
        tps = [
            TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
            for tp in found
        ]
    return tps


def _parse_offset(text: str) -> int:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

    lowered = text.strip().lower()
    if lowered in _EARLIEST:
        return OFFSET_BEGINNING
    if lowered in _LATEST:
        return OFFSET_END
    try:
        value = int(lowered)
    except ValueError:
        raise click.BadParameter(
            f"expected a number, -N, 'earliest' or 'latest', got {text!r}", param_hint="--offset"
        ) from None
    if value < 0:
        return -2000 - (-value)  # librdkafka's RD_KAFKA_OFFSET_TAIL(n): n records before the end
    return value


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch, from a number of ms or an ISO-8601 time (UTC unless it says otherwise)."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"expected milliseconds since the epoch or an ISO-8601 time, got {text!r}",
            param_hint="--timestamp",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


# -- rendering ------------------------------------------------------------------------------------


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


def _template_from_properties(properties: tuple[str, ...]) -> str:
    """Kafka's DefaultMessageFormatter layout as a template: the print.* fields, then key, then value."""
    from brook.cli._common import parse_key_values

    props = dict(parse_key_values(properties, "--property"))

    def on(name: str) -> bool:
        return props.get(name, "false").lower() == "true"

    sep = props.get("key.separator", "\t").replace("%", "%%")
    parts = []
    if on("print.timestamp"):
        parts.append("CreateTime:%T")
    if on("print.partition"):
        parts.append("Partition:%p")
    if on("print.offset"):
        parts.append("Offset:%o")
    if on("print.headers"):
        parts.append("%h")
    if on("print.key"):
        parts.append("%k")
    prefix = "".join(p + sep for p in parts)
    return prefix + "%s\n"


def _renderer(template: str) -> Callable[[Any], str]:
    if template.strip().lower() == "json":
        return lambda msg: json.dumps(record_json(msg), ensure_ascii=False) + "\n"
    tokens = _compile(template)
    return lambda msg: format_record(tokens, msg)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "0": "\0"}
_FIELDS = set("kKsStpoTh%")


def _compile(template: str) -> list[tuple[bool, str]]:
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
