"""`brook consume TOPIC...`: print records (like kafka-console-consumer.sh, `rpk topic consume`, kcat -C).

Without --group the partitions are assigned directly and nothing is committed, so no consumer group is
needed on the broker. With --group the topics are subscribed through the group and offsets are committed.
An offset that retention or DeleteRecords removed follows auto.offset.reset (see consume_offsets).
"""

from __future__ import annotations

import os
import re
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
    parse_key_values,
    settings,
    topic_names,
)
from brook.cli.consume_offsets import (
    EARLIEST,
    LATEST,
    decide_reset,
    parse_offset,
    parse_reset_policy,
    parse_timestamp,
    tail_start,
)
from brook.cli.record_format import kafka_layout, parse_consumer_properties, renderer_for_format

__all__ = ["consume"]


@click.command()
@click.argument("topics", nargs=-1)
@click.option(
    "--topic", "-t", "topic_opts", multiple=True, metavar="TOPIC", help="Topic (Kafka's flag; repeatable)"
)
@click.option(
    "--include", "include", default=None, metavar="REGEX", help="Every topic whose whole name matches REGEX"
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
    "--count",
    "--max-messages",
    "-n",
    "-c",
    "count",
    type=int,
    default=None,
    help="Exit after N records (-1: no limit, Kafka's default)",
)
@click.option("--exit-at-end", "-e", is_flag=True, help="Exit when every partition has been read to its end")
@click.option(
    "--timeout-ms",
    type=click.IntRange(min=0),
    default=None,
    help="Exit when no record arrived for this long (kafka-console-consumer)",
)
@click.option(
    "--format",
    "-f",
    "template",
    default="text",
    show_default=True,
    help="'text' (the value), 'json', or a kcat-style template: %k key, %s value, %t topic, %p partition, "
    "%o offset, %T timestamp, %h headers, %K/%S key/value length",
)
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="kafka-console-consumer.sh formatter properties: print.key, print.value, print.timestamp, "
    "print.partition, print.offset, print.headers (true|false), key.separator, line.separator, "
    "headers.separator, null.literal; and auto.offset.reset=earliest|latest|none",
)
@click.option(
    "--isolation-level",
    type=click.Choice(["read_committed", "read_uncommitted"]),
    default=None,
    help="Skip records of aborted transactions (read_committed, librdkafka's default) or not",
)
@client_options
def consume(
    topics: tuple[str, ...],
    topic_opts: tuple[str, ...],
    include: str | None,
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
    isolation_level: str | None,
) -> None:
    """Print records from TOPICs, one per line.

    An offset that retention or DeleteRecords removed follows auto.offset.reset (-X or --property):
    latest (the default; earliest with --from-beginning) or earliest resume there with a warning on
    stderr; none makes it an error."""
    from confluent_kafka import Consumer

    names = topic_names(topics, topic_opts)
    if include is not None and names:
        raise click.UsageError("give topics or --include REGEX, not both")
    if not names and include is None:
        raise click.UsageError("name at least one topic (as an argument or with --topic)")
    starts = [x for x in (from_beginning, offset is not None, timestamp is not None) if x]
    if len(starts) > 1:
        raise click.UsageError("give at most one of --from-beginning, --offset, --timestamp")
    if count is not None and count == -1:
        count = None
    elif count is not None and count < 1:
        raise click.BadParameter(
            f"{count} is not a record count (at least 1, or -1 for no limit)", param_hint="-n"
        )
    layout, consumer_props = parse_consumer_properties(parse_key_values(properties, "--property"))
    format_source = click.get_current_context().get_parameter_source("template")
    if layout is not None and format_source == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError(
            "--format and --property print.*/separators are two ways to lay out a record: give one"
        )
    render: Callable[[Any], str] = (
        renderer_for_format(template) if layout is None else lambda msg: kafka_layout(layout, msg)
    )
    policy = _reset_policy(from_beginning, consumer_props)
    start_ts = parse_timestamp(timestamp) if timestamp is not None else None
    start = parse_offset(offset) if offset is not None else None
    st = settings()
    config = kafka_config(
        st,
        **{
            "group.id": group or "brook-cli-consume",
            "enable.auto.commit": group is not None,
            "enable.auto.offset.store": group is not None,
            "enable.partition.eof": exit_at_end,
            "allow.auto.create.topics": False,
            **({"isolation.level": isolation_level} if isolation_level else {}),
        },
    )
    config["auto.offset.reset"] = "error"  # every reset comes to _loop, which applies `policy` and says so
    consumer = Consumer(config)
    try:
        check_reachable(consumer, st)
        if include is not None:
            names = _matching_topics(consumer, include)
        loop = _Loop(consumer, render, policy)
        if group is not None and not partitions and offset is None and timestamp is None:
            consumer.subscribe(names, on_assign=loop.on_assign)
        else:
            tps = _assignment(consumer, names, partitions, start, start_ts, from_beginning)
            loop.starting.update({(tp.topic, tp.partition): tp.offset for tp in tps})
            consumer.assign(tps)
        seen = loop.run(count, exit_at_end, timeout_ms)
    finally:
        consumer.close()
    click.echo(f"Processed a total of {seen} messages", err=True)


def _reset_policy(from_beginning: bool, consumer_props: dict[str, str]) -> str:
    """auto.offset.reset from -X/--consumer-property or --property; --from-beginning means earliest (and
    conflicts with any other choice, as in kafka-console-consumer.sh)."""
    given = settings().client_config.get("auto.offset.reset") or consumer_props.get("auto.offset.reset")
    if given is None:
        return EARLIEST if from_beginning else LATEST
    policy = parse_reset_policy(given)
    if from_beginning and policy != EARLIEST:
        raise click.UsageError(
            f"--from-beginning conflicts with auto.offset.reset={given} (found conflicting settings)"
        )
    return policy


def _matching_topics(consumer: Any, pattern: str) -> list[str]:
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise click.BadParameter(f"not a regular expression: {exc}", param_hint="--include") from None
    listed = consumer.list_topics(timeout=10).topics
    names = sorted(name for name in listed if regex.fullmatch(name) and not name.startswith("__"))
    if not names:
        raise CliError(f"no topic matches --include {pattern!r}")
    return names


class _Loop:
    """Polls, prints, and applies the reset policy when a partition's position is gone."""

    def __init__(self, consumer: Any, render: Callable[[Any], str], policy: str) -> None:
        self.consumer = consumer
        self.render = render
        self.policy = policy
        # where each partition (re)started: kept when another partition's reset reassigns them all
        self.starting: dict[tuple[str, int], int] = {}
        self.failure: CliError | None = None

    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """A group assignment: partitions without a committed offset start per the policy (quietly, as in
        Kafka), so the only resets the loop hears of are offsets that are gone."""
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

        committed = consumer.committed(partitions, timeout=15) if partitions else []
        for tp in committed:
            if tp.offset < 0:
                decision = decide_reset(self.policy, tp.topic, tp.partition, None, 0, 0)
                if decision.resume is None:
                    self.failure = self.failure or CliError(decision.message)
                tp.offset = OFFSET_BEGINNING if self.policy == EARLIEST else OFFSET_END
            self.starting[(tp.topic, tp.partition)] = tp.offset
        consumer.assign(committed)

    def run(self, count: int | None, exit_at_end: bool, timeout_ms: int | None) -> int:
        from confluent_kafka import KafkaError

        consumer = self.consumer
        seen = 0
        at_end: set[tuple[str, int]] = set()
        last = time.monotonic()
        out = sys.stdout
        try:
            while count is None or seen < count:
                msg = consumer.poll(0.2)
                if self.failure is not None:
                    raise self.failure
                if msg is None:
                    if _reader_gone(out):
                        break
                    if timeout_ms is not None and (time.monotonic() - last) * 1000 >= timeout_ms:
                        break
                    continue
                err = msg.error()
                if err is not None:
                    code = err.code()
                    if code == KafkaError._PARTITION_EOF:
                        at_end.add((msg.topic(), msg.partition()))
                        if exit_at_end and _all_at_end(consumer, at_end):
                            break
                        continue
                    if code == KafkaError._AUTO_OFFSET_RESET:
                        at_end.discard((msg.topic(), msg.partition()))
                        self._reset(msg.topic(), msg.partition(), msg.offset())
                        continue
                    if err.fatal() or code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                        raise CliError(describe_kafka_error(err))
                    if settings().debug:
                        click.echo(f"brook: {describe_kafka_error(err)} (retrying)", err=True)
                    continue  # transient: librdkafka retries by itself
                at_end.discard((msg.topic(), msg.partition()))
                last = time.monotonic()
                out.write(self.render(msg))
                out.flush()
                seen += 1
        except KeyboardInterrupt:
            pass
        except BrokenPipeError:
            # `brook consume ... | head`: the reader is gone, which is a normal way to stop. Point stdout at
            # /dev/null so the interpreter's final flush does not complain about the pipe again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return seen

    def _reset(self, topic: str, partition: int, requested: int | None) -> None:
        """librdkafka found the position of topic/partition gone (or a group without a committed offset):
        resume per the policy with a warning, or fail under auto.offset.reset=none."""
        from confluent_kafka import TopicPartition

        consumer = self.consumer
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        decision = decide_reset(self.policy, topic, partition, requested, low, high)
        if decision.resume is None:
            raise CliError(decision.message)
        if decision.message:
            click.echo(f"brook: warning: {decision.message}", err=True)
        self.starting[(topic, partition)] = decision.resume
        current = consumer.assignment()
        positions = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(current)}
        assignment = []
        for tp in current:
            here = (tp.topic, tp.partition)
            if here == (topic, partition):
                resume = decision.resume
            else:  # a partition that has not fetched yet keeps the start it was given
                resume = positions.get(here, -1001)
                if resume < 0:
                    resume = self.starting.get(here, -1001)
            assignment.append(TopicPartition(tp.topic, tp.partition, resume))
        consumer.assign(assignment)


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
    names: list[str],
    partitions: tuple[int, ...],
    start: int | None,
    start_ts: int | None,
    from_beginning: bool,
) -> list[Any]:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

    if start is None:
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
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
        for p in chosen:
            offset = start
            if tail_start(start, 0, 0) is not None:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                offset = tail_start(start, low, high) or 0
            tps.append(TopicPartition(name, p, offset))
    if start_ts is not None:
        found = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, start_ts) for tp in tps], timeout=10
        )
        # No record at or after the time: start at the end, like Kafka's console consumer.
        tps = [
            TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
            for tp in found
        ]
    return tps
