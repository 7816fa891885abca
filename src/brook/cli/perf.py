"""`brook perf produce|consume`: load generators that print kafka-*-perf-test's summary lines.

The progress bar (rich) is drawn on stderr only when stderr is a terminal; the summary goes to stdout.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from brook.cli._common import (
    CliError,
    admin_client,
    check_reachable,
    client_options,
    describe_kafka_error,
    kafka_config,
    parse_key_values,
    settings,
)

__all__ = ["consumer_summary", "perf", "percentile", "producer_summary"]

_MB = 1024 * 1024


@click.group()
def perf() -> None:
    """Produce or consume as fast as possible (or at --throughput) and report throughput and latency."""


@contextmanager
def _progress(total: int, description: str) -> Iterator[Any]:
    """Yields advance(n); draws a rich progress bar on a terminal, does nothing elsewhere."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10.0f} rec/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total, rate=0.0)
        started = time.monotonic()
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            rate = done / max(time.monotonic() - started, 1e-9)
            progress.update(task, advance=n, rate=rate)

        yield advance


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value at `fraction` of the sorted list, indexed the way kafka-producer-perf-test does."""
    if not sorted_values:
        return 0.0
    index = min(int(fraction * len(sorted_values)), len(sorted_values) - 1)
    return sorted_values[index]


def producer_summary(count: int, total_bytes: int, elapsed_s: float, latencies_ms: list[float]) -> str:
    """kafka-producer-perf-test's final line (its printf format, including '%f' for records/sec)."""
    elapsed_s = max(elapsed_s, 1e-9)
    lat = sorted(latencies_ms)
    avg = sum(lat) / len(lat) if lat else 0.0
    return (
        f"{count} records sent, {count / elapsed_s:f} records/sec ({total_bytes / elapsed_s / _MB:.2f} MB/sec), "
        f"{avg:.2f} ms avg latency, {(lat[-1] if lat else 0.0):.2f} ms max latency, "
        f"{int(percentile(lat, 0.5))} ms 50th, {int(percentile(lat, 0.95))} ms 95th, "
        f"{int(percentile(lat, 0.99))} ms 99th, {int(percentile(lat, 0.999))} ms 99.9th."
    )


@perf.command(name="produce")
@click.argument("topic", required=False)
@click.option("--topic", "-t", "topic_opt", metavar="TOPIC", help="Topic (Kafka's flag)")
@click.option("--num-records", "-n", type=int, default=100_000, show_default=True)
@click.option("--record-size", "-s", type=int, default=100, show_default=True, help="Value size in bytes")
@click.option(
    "--throughput",
    type=float,
    default=-1,
    show_default=True,
    help="Records/sec to aim for; -1 means no limit",
)
@click.option("--acks", type=click.Choice(["0", "1", "-1", "all"]), default="1", show_default=True)
@click.option(
    "--producer-props", multiple=True, metavar="KEY=VALUE", help="Producer config (Kafka's flag; like -X)"
)
@client_options
def perf_produce(
    topic: str | None,
    topic_opt: str | None,
    num_records: int,
    record_size: int,
    throughput: float,
    acks: str,
    producer_props: tuple[str, ...],
) -> None:
    """Send --num-records records of --record-size bytes and print kafka-producer-perf-test's summary."""
    from confluent_kafka import Producer

    name = topic or topic_opt
    if not name:
        raise click.UsageError("name a topic (as an argument or with --topic)")
    if num_records <= 0 or record_size < 0:
        raise click.UsageError("--num-records must be positive and --record-size not negative")
    st = settings()
    extra = {"acks": acks, "linger.ms": 5, "queue.buffering.max.messages": 1_000_000}
    extra.update(parse_key_values(producer_props, "--producer-props"))
    producer = Producer(kafka_config(st, **extra))
    check_reachable(producer, st)
    # Payload as Kafka's tool makes it: random uppercase letters (compressible like text, not like zeros).
    payload = bytes(65 + b % 26 for b in os.urandom(record_size))
    latencies_ms: list[float] = []
    errors: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(describe_kafka_error(err))
        else:
            latencies_ms.append((msg.latency() or 0.0) * 1000.0)

    with _progress(num_records, f"produce {name}") as advance:
        started = time.monotonic()
        try:
            _send_all(producer, name, payload, num_records, throughput, on_delivery, advance, errors)
        except KeyboardInterrupt:
            pass
        producer.flush(60)
        elapsed = time.monotonic() - started
    if errors and not latencies_ms:
        raise CliError(f"could not produce to {name}: {errors[0]}")
    sent = len(latencies_ms)
    click.echo(producer_summary(sent, sent * record_size, elapsed, latencies_ms))
    if errors:
        raise CliError(f"{len(errors)} records failed, the first with: {errors[0]}")


def _send_all(
    producer: Any,
    topic: str,
    payload: bytes,
    num_records: int,
    throughput: float,
    on_delivery: Any,
    advance: Any,
    errors: list[str],
) -> None:
    started = time.monotonic()
    step = 1000
    for i in range(num_records):
        while True:
            try:
                producer.produce(topic, value=payload, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 100 == 0:
            producer.poll(0)
        if throughput > 0:
            ahead_s = (i + 1) / throughput - (time.monotonic() - started)
            if ahead_s > 0:
                producer.poll(min(ahead_s, 0.1))
                time.sleep(max(ahead_s - 0.1, 0))
        if (i + 1) % step == 0:
            advance(step)
            if errors:
                return
    advance(num_records % step)


def consumer_summary(start_ms: int, end_ms: int, total_bytes: int, count: int, fetch_ms: float) -> str:
    """kafka-consumer-perf-test's header and data line."""
    elapsed_s = max((end_ms - start_ms) / 1000.0, 1e-9)
    fetch_s = max(fetch_ms / 1000.0, 1e-9)
    mb = total_bytes / _MB
    header = (
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
        "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    )
    line = (
        f"{_kafka_time(start_ms)}, {_kafka_time(end_ms)}, {mb:.4f}, {mb / elapsed_s:.4f}, {count}, "
        f"{count / elapsed_s:.4f}, 0, {int(fetch_ms)}, {mb / fetch_s:.4f}, {count / fetch_s:.4f}"
    )
    return f"{header}\n{line}"


def _kafka_time(ms: int) -> str:
    when = dt.datetime.fromtimestamp(ms / 1000.0)
    return when.strftime("%Y-%m-%d %H:%M:%S:") + f"{ms % 1000:03d}"


@perf.command(name="consume")
@click.argument("topic", required=False)
@click.option("--topic", "-t", "topic_opt", metavar="TOPIC", help="Topic (Kafka's flag)")
@click.option("--num-records", "--messages", "-n", type=int, default=100_000, show_default=True)
@click.option(
    "--timeout",
    "timeout_ms",
    type=int,
    default=10_000,
    show_default=True,
    help="Stop after this long without data (ms)",
)
@click.option("--group", "-g", default=None, help="Consume through this group (default: assign, no group)")
@click.option("--consumer-props", multiple=True, metavar="KEY=VALUE", help="Consumer config (like -X)")
@client_options
def perf_consume(
    topic: str | None,
    topic_opt: str | None,
    num_records: int,
    timeout_ms: int,
    group: str | None,
    consumer_props: tuple[str, ...],
) -> None:
    """Read --num-records records from the start of TOPIC and print kafka-consumer-perf-test's summary."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    name = topic or topic_opt
    if not name:
        raise click.UsageError("name a topic (as an argument or with --topic)")
    if num_records <= 0 or timeout_ms <= 0:
        raise click.UsageError("--messages and --timeout must be positive")
    st = settings()
    admin = admin_client(st)
    # All topics, not just this one: a Metadata request that names a missing topic may auto-create it.
    metadata = admin.list_topics(timeout=10)
    t = metadata.topics.get(name)
    if t is None or t.error is not None:
        raise CliError(
            f"{name}: {describe_kafka_error(t.error) if t is not None and t.error else 'unknown topic'}"
        )
    extra: dict[str, Any] = {
        "group.id": group or "brook-perf-consume",
        "enable.auto.commit": group is not None,
        "auto.offset.reset": "earliest",
    }
    extra.update(parse_key_values(consumer_props, "--consumer-props"))
    consumer = Consumer(kafka_config(st, **extra))
    if group is None:
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in sorted(t.partitions)])
    else:
        consumer.subscribe([name])
    count = 0
    total_bytes = 0
    start_ms = int(time.time() * 1000)
    started = time.monotonic()
    last_data = started
    try:
        with _progress(num_records, f"consume {name}") as advance:
            while count < num_records and (time.monotonic() - last_data) * 1000 < timeout_ms:
                batch = consumer.consume(min(500, num_records - count), timeout=0.2)
                got = 0
                for msg in batch:
                    if msg.error() is None:
                        got += 1
                        total_bytes += len(msg.value() or b"") + len(msg.key() or b"")
                if got:
                    count += got
                    last_data = time.monotonic()
                    advance(got)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    fetch_ms = (last_data - started) * 1000.0
    end_ms = start_ms + int((time.monotonic() - started) * 1000)
    if count < num_records:
        click.echo(
            f"WARNING: Exiting before consuming the expected number of messages: timeout ({timeout_ms} ms) exceeded.",
            err=True,
        )
    click.echo(consumer_summary(start_ms, end_ms, total_bytes, count, fetch_ms))
