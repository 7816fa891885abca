"""`brook topic`: create, list, describe, delete, add-partitions, alter-config, reassign (like kafka-topics.sh,
kafka-reassign-partitions.sh / rpk topic)."""

from __future__ import annotations

import click

from brook.cli._common import (
    CliError,
    admin_client,
    client_options,
    emit,
    emit_status_table,
    exit_if_failed,
    format_option,
    render_table,
    results_by_name,
    settings,
)
from brook.cli.config_syntax import parse_config_pairs
from brook.cli.topic_common import error_text, require_topics, topics_arg
from brook.cli.topic_config import alter_config
from brook.cli.topic_describe import describe
from brook.cli.topic_reassign import reassign, reassignments
from brook.cli.topic_records import delete_records

__all__ = ["topic"]


@click.group()
def topic() -> None:
    """Create, list, describe, delete and alter topics."""


@topic.command()
@topics_arg
@click.option("--partitions", "-p", type=int, default=-1, help="Partition count (default: the broker's)")
@click.option(
    "--replication-factor", "-r", type=int, default=-1, help="Replication factor (default: the broker's)"
)
@click.option(
    "--config",
    "-c",
    "configs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Topic config: k=v, k=v,k2=v2, k=[a,b] for a list (repeatable)",
)
@click.option("--if-not-exists", is_flag=True, help="Succeed if the topic already exists")
@client_options
@format_option
def create(
    topics: tuple[str, ...],
    topic_opts: tuple[str, ...],
    partitions: int,
    replication_factor: int,
    configs: tuple[str, ...],
    if_not_exists: bool,
) -> None:
    """Create topics."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    names = require_topics(topics, topic_opts)
    config = dict(parse_config_pairs(configs, "--config"))
    admin = admin_client(settings())
    new = [
        NewTopic(n, num_partitions=partitions, replication_factor=replication_factor, config=config)
        for n in names
    ]
    try:
        futures = admin.create_topics(new, request_timeout=15.0)
    except (KafkaException, ValueError) as exc:
        raise CliError(f"cannot create topics: {error_text(exc)}") from exc
    fine = (KafkaError.TOPIC_ALREADY_EXISTS,) if if_not_exists else ()
    results = results_by_name(
        futures, names, key="topic", fine_codes=fine, fine_status="EXISTS (nothing created)"
    )
    emit_status_table(results, "topic")


@topic.command(name="list")
@click.option("--internal", "-i", is_flag=True, help="Include internal topics (__consumer_offsets)")
@client_options
@format_option
def list_(internal: bool) -> None:
    """List topics."""
    admin = admin_client(settings())
    metadata = admin.list_topics(timeout=15)
    rows = []
    for name in sorted(metadata.topics):
        t = metadata.topics[name]
        is_internal = name.startswith("__")
        if is_internal and not internal:
            continue
        parts = t.partitions.values()
        replicas = max((len(p.replicas) for p in parts), default=0)
        rows.append(
            {"name": name, "partitions": len(t.partitions), "replicas": replicas, "internal": is_internal}
        )
    emit(
        rows,
        lambda: render_table(
            ["NAME", "PARTITIONS", "REPLICAS"], [(r["name"], r["partitions"], r["replicas"]) for r in rows]
        ),
    )


# `brook topic ls` like `rpk topic list`'s alias
topic.add_command(list_, name="ls")


@topic.command()
@topics_arg
@click.option("--if-exists", is_flag=True, help="Succeed if a topic does not exist")
@client_options
@format_option
def delete(topics: tuple[str, ...], topic_opts: tuple[str, ...], if_exists: bool) -> None:
    """Delete topics."""
    from confluent_kafka import KafkaError

    names = require_topics(topics, topic_opts)
    admin = admin_client(settings())
    futures = admin.delete_topics(names, request_timeout=15.0)
    fine = (KafkaError.UNKNOWN_TOPIC_OR_PART,) if if_exists else ()
    results = results_by_name(
        futures, names, key="topic", fine_codes=fine, fine_status="NOT-FOUND (nothing deleted)"
    )
    emit_status_table(results, "topic")


@topic.command(name="add-partitions")
@topics_arg
@click.option("--num", "-n", type=int, default=None, help="How many partitions to add (rpk)")
@click.option("--partitions", "-p", "total", type=int, default=None, help="New total partition count (Kafka)")
@client_options
@format_option
def add_partitions(
    topics: tuple[str, ...], topic_opts: tuple[str, ...], num: int | None, total: int | None
) -> None:
    """Add partitions to topics: --num N adds N, --partitions N sets the total to N."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewPartitions

    names = require_topics(topics, topic_opts)
    if (num is None) == (total is None):
        raise click.UsageError("give exactly one of --num (partitions to add) or --partitions (new total)")
    if num is not None and num < 1:
        raise click.BadParameter(f"{num}: add at least one partition", param_hint="--num")
    if total is not None and total < 1:
        raise click.BadParameter(f"{total}: a topic has at least one partition", param_hint="--partitions")
    admin = admin_client(settings())
    metadata = admin.list_topics(timeout=15)
    requests = []
    for name in names:
        current = metadata.topics.get(name)
        if current is None or current.error is not None:
            raise CliError(f"{name}: Broker: Unknown topic or partition")
        new_total = total if total is not None else len(current.partitions) + (num or 0)
        requests.append(NewPartitions(name, new_total))
    futures = admin.create_partitions(requests, request_timeout=15.0)
    results = []
    for req in requests:
        try:
            futures[req.topic].result(timeout=20)
            results.append({"topic": req.topic, "partitions": req.new_total_count, "error": None})
        except KafkaException as exc:
            results.append({"topic": req.topic, "partitions": None, "error": error_text(exc)})
    emit(
        results,
        lambda: render_table(
            ["TOPIC", "PARTITIONS", "STATUS"],
            [(r["topic"], r["partitions"], "OK" if r["error"] is None else r["error"]) for r in results],
        ),
    )
    exit_if_failed(results, "topic")


topic.add_command(describe, name="describe")
topic.add_command(alter_config, name="alter-config")
topic.add_command(delete_records, name="delete-records")
topic.add_command(reassign, name="reassign")
topic.add_command(reassignments, name="reassignments")
