"""`brook topic delete-records`: move partitions' log start offsets forward (kafka-delete-records.sh).

Kafka's form reads `--offset-json-file FILE`:
`{"partitions": [{"topic": "t", "partition": 0, "offset": 5}], "version": 1}`, where offset -1 means the
high watermark (delete everything). brook's shorter form names topics with `--partition P` (repeatable; all
partitions without it) and `--before-offset N` (-1: the high watermark). Records before the offset are gone
for every reader; the output is kafka-delete-records.sh's: each partition's new low watermark.
"""

from __future__ import annotations

import json
from typing import Any

import click

from brook.cli._common import (
    CliError,
    admin_client,
    client_options,
    describe_kafka_error,
    emit,
    exit_if_failed,
    format_option,
    render_table,
    settings,
    topic_names,
)
from brook.cli.topic_common import topics_arg

__all__ = ["delete_records", "parse_offset_json"]

_HIGH_WATERMARK = -1


def parse_offset_json(text: str, source: str) -> list[tuple[str, int, int]]:
    """kafka-delete-records.sh's JSON → (topic, partition, offset) triples; a usage error names the problem."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{source} is not JSON: {exc.msg} (line {exc.lineno})") from None
    entries = doc.get("partitions") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise click.BadParameter(
            f'{source}: expected {{"partitions": [{{"topic", "partition", "offset"}}, ...]}}'
        )
    triples = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise click.BadParameter(f"{source}: each partition is an object, got {entry!r}")
        topic, partition, offset = entry.get("topic"), entry.get("partition"), entry.get("offset")
        if not isinstance(topic, str) or not topic:
            raise click.BadParameter(f"{source}: a partition without a topic name: {entry!r}")
        if not isinstance(partition, int) or isinstance(partition, bool) or partition < 0:
            raise click.BadParameter(f"{source}: {topic}: partition must be a number >= 0, got {partition!r}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < _HIGH_WATERMARK:
            raise click.BadParameter(f"{source}: {topic}/{partition}: offset must be >= -1, got {offset!r}")
        triples.append((topic, partition, offset))
    seen = {(t, p) for t, p, _ in triples}
    if len(seen) != len(triples):
        raise click.BadParameter(f"{source}: a partition is listed twice")
    return triples


def _partitions_of(listed: dict[str, Any], topic: str) -> list[int]:
    found = listed.get(topic)
    if found is None or found.error is not None:
        raise CliError(f"{topic}: Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)")
    return sorted(found.partitions)


@click.command(name="delete-records")
@topics_arg
@click.option("--offset-json-file", type=click.File("r"), default=None, help="kafka-delete-records.sh's JSON")
@click.option("--partition", "-p", "partitions", type=int, multiple=True, help="Only these partitions")
@click.option(
    "--before-offset", type=int, default=None, help="Delete records before this offset (-1: all of them)"
)
@client_options
@format_option
def delete_records(
    topics: tuple[str, ...],
    topic_opts: tuple[str, ...],
    offset_json_file: Any,
    partitions: tuple[int, ...],
    before_offset: int | None,
) -> None:
    """Delete records before an offset: --offset-json-file FILE, or TOPIC --before-offset N [--partition P]."""
    from confluent_kafka import KafkaException, TopicPartition

    names = topic_names(topics, topic_opts)
    if offset_json_file is not None:
        if names or partitions or before_offset is not None:
            raise click.UsageError("--offset-json-file names the partitions and offsets: give nothing else")
        triples = parse_offset_json(offset_json_file.read(), offset_json_file.name)
    else:
        if not names or before_offset is None:
            raise click.UsageError("give --offset-json-file FILE, or a topic and --before-offset N")
        if before_offset < _HIGH_WATERMARK:
            raise click.BadParameter(
                "must be an offset >= 0, or -1 for the high watermark", param_hint="--before-offset"
            )
        if any(p < 0 for p in partitions):
            raise click.BadParameter("partitions are numbered from 0", param_hint="--partition")
        triples = [(name, p, before_offset) for name in names for p in partitions]
    admin = admin_client(settings())
    listed = admin.list_topics(timeout=15).topics
    if offset_json_file is None and not partitions:  # every partition of the named topics
        triples = [(n, p, before_offset or 0) for n in names for p in sorted(_partitions_of(listed, n))]
    for topic, partition, _ in triples:
        found = _partitions_of(listed, topic)
        if partition not in found:
            raise CliError(f"{topic} has no partition {partition} (partitions: 0-{len(found) - 1})")
    request = [TopicPartition(t, p, o) for t, p, o in triples]
    futures = admin.delete_records(request, request_timeout=30.0)
    rows = []
    for tp, future in futures.items():
        where = f"{tp.topic}-{tp.partition}"
        try:
            deleted = future.result(timeout=30)
            rows.append({"partition": where, "low_watermark": deleted.low_watermark, "error": None})
        except KafkaException as exc:
            rows.append({"partition": where, "low_watermark": None, "error": describe_kafka_error(exc)})
    rows.sort(key=lambda r: r["partition"])
    emit(
        rows,
        lambda: render_table(
            ["PARTITION", "LOW-WATERMARK"],
            [(r["partition"], r["low_watermark"] if r["error"] is None else r["error"]) for r in rows],
        ),
    )
    exit_if_failed(rows, "partition")
