"""`brook produce TOPIC`: one record per input line (like kafka-console-producer.sh / `rpk topic produce`).

Keyed records go where Kafka's Java client would send them: librdkafka's `murmur2_random` partitioner is
Java's murmur2 for keyed records (and random for unkeyed ones).
"""

from __future__ import annotations

import sys
from typing import IO, Any

import click

from brook.cli._common import (
    CliError,
    check_reachable,
    client_options,
    describe_kafka_error,
    kafka_config,
    parse_key_values,
    settings,
)
from brook.cli.line_reader import PRODUCER_PROPERTIES, LineError, line_format, parse_line

__all__ = ["produce"]

COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"]


@click.command()
@click.argument("topic", required=False)
@click.option("--topic", "-t", "topic_opt", metavar="TOPIC", help="Topic (Kafka's flag)")
@click.option(
    "--file",
    "-f",
    "input_file",
    type=click.File("rb"),
    default=None,
    help="Read lines from FILE (default stdin)",
)
@click.option(
    "--key-separator",
    "-k",
    default=None,
    help="Split each line at the first SEP into key and value (no separator: no keys)",
)
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="kafka-console-producer.sh reader properties: " + ", ".join(PRODUCER_PROPERTIES),
)
@click.option("--header", "-H", "headers", multiple=True, metavar="KEY=VALUE", help="Header on every record")
@click.option("--partition", "-p", type=int, default=None, help="Send every record to this partition")
@click.option(
    "--acks",
    "--request-required-acks",
    "acks",
    type=click.Choice(["0", "1", "-1", "all"]),
    default="all",
    show_default=True,
    help="Required acks",
)
@click.option(
    "--compression",
    "--compression-codec",
    "-z",
    type=click.Choice(COMPRESSIONS),
    default="none",
    show_default=True,
)
@click.option("--verbose", "-v", is_flag=True, help="Print where each record went (stderr)")
@client_options
def produce(
    topic: str | None,
    topic_opt: str | None,
    input_file: IO[bytes] | None,
    key_separator: str | None,
    properties: tuple[str, ...],
    headers: tuple[str, ...],
    partition: int | None,
    acks: str,
    compression: str,
    verbose: bool,
) -> None:
    """Produce records to TOPIC, one per line of stdin (or --file)."""
    from confluent_kafka import Producer

    name = topic or topic_opt
    if not name:
        raise click.UsageError("name a topic (as an argument or with --topic)")
    record_headers: list[tuple[str, bytes | None]] = [
        (k, v.encode()) for k, v in parse_key_values(headers, "--header")
    ]
    fmt = line_format(parse_key_values(properties, "--property"), key_separator)
    st = settings()
    producer = Producer(
        kafka_config(
            st,
            **{
                "partitioner": "murmur2_random",
                "acks": acks,
                "compression.type": compression,
                "linger.ms": 5,
                "enable.idempotence": False,
            },
        )
    )
    check_reachable(producer, st)
    source = input_file if input_file is not None else sys.stdin.buffer
    state = _Delivery(verbose)
    try:
        for number, raw in enumerate(source, start=1):
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line.endswith(b"\r"):
                line = line[:-1]
            try:
                record = parse_line(line, number, fmt)
            except LineError as exc:
                raise CliError(str(exc)) from None
            _send(producer, name, record.key, record.value, record.headers + record_headers, partition, state)
            if state.errors:
                break
    except KeyboardInterrupt:
        pass
    finally:
        remaining = producer.flush(30)
    if state.errors:
        raise CliError(f"could not produce to {name}: {state.errors[0]}")
    if remaining:
        raise CliError(f"{remaining} records were not delivered to {name} within 30s")
    if verbose:
        click.echo(f"produced {state.delivered} records to {name}", err=True)


class _Delivery:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.delivered = 0
        self.errors: list[str] = []

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(describe_kafka_error(err))
            return
        self.delivered += 1
        if self.verbose:
            click.echo(f"{msg.topic()}/{msg.partition()}@{msg.offset()}", err=True)


def _send(
    producer: Any,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]],
    partition: int | None,
    on_delivery: _Delivery,
) -> None:
    kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": on_delivery}
    if headers:
        kwargs["headers"] = headers
    if partition is not None:
        kwargs["partition"] = partition
    while True:
        try:
            producer.produce(topic, **kwargs)
            break
        except BufferError:
            producer.poll(0.1)  # the local queue is full: let deliveries drain
    producer.poll(0)
