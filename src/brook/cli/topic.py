"""`brook topic`: create, list, describe, delete, add-partitions, alter-config (like kafka-topics.sh / rpk topic)."""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import (
    CliError,
    admin_client,
    client_options,
    emit,
    format_option,
    is_unsupported,
    parse_key_values,
    render_table,
    result_of,
    results_by_name,
    settings,
    topic_names,
)

__all__ = ["topic"]


def _topics_arg(func: Any) -> Any:
    func = click.option(
        "--topic", "-t", "topic_opts", multiple=True, metavar="TOPIC", help="Topic (Kafka's flag; repeatable)"
    )(func)
    return click.argument("topics", nargs=-1)(func)


def _require_topics(topics: tuple[str, ...], topic_opts: tuple[str, ...]) -> list[str]:
    names = topic_names(topics, topic_opts)
    if not names:
        raise click.UsageError("name at least one topic (as an argument or with --topic)")
    return names


@click.group()
def topic() -> None:
    """Create, list, describe, delete and alter topics."""


@topic.command()
@_topics_arg
@click.option("--partitions", "-p", type=int, default=-1, help="Partition count (default: the broker's)")
@click.option(
    "--replication-factor", "-r", type=int, default=-1, help="Replication factor (default: the broker's)"
)
@click.option(
    "--config", "-c", "configs", multiple=True, metavar="KEY=VALUE", help="Topic config (repeatable)"
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

    names = _require_topics(topics, topic_opts)
    config = dict(parse_key_values(configs, "--config"))
    admin = admin_client(settings())
    new = [
        NewTopic(n, num_partitions=partitions, replication_factor=replication_factor, config=config)
        for n in names
    ]
    try:
        futures = admin.create_topics(new, request_timeout=15.0)
    except (KafkaException, ValueError) as exc:
        raise CliError(f"cannot create topics: {_error_text(exc)}") from exc
    fine = (KafkaError.TOPIC_ALREADY_EXISTS,) if if_not_exists else ()
    results = results_by_name(futures, names, key="topic", fine_codes=fine)
    emit(
        results,
        lambda: render_table(
            ["TOPIC", "STATUS"],
            [(r["topic"], "OK" if r["error"] is None else r["error"]) for r in results],
        ),
    )
    _exit_if_failed(results)


def _error_text(exc: BaseException) -> str:
    from brook.cli._common import describe_kafka_error

    return describe_kafka_error(exc)


def _exit_if_failed(results: list[dict[str, Any]]) -> None:
    failed = [r for r in results if r["error"] is not None]
    if failed:
        if settings().output != "text":
            raise CliError("; ".join(f"{r['topic']}: {r['error']}" for r in failed))
        raise click.exceptions.Exit(1)


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
@_topics_arg
@client_options
@format_option
def describe(topics: tuple[str, ...], topic_opts: tuple[str, ...]) -> None:
    """Partitions (leader, replicas, ISR, log start/end offsets, size) and non-default configs of topics.

    Without a topic name, every topic except internal ones (like kafka-topics.sh --describe)."""
    admin = admin_client(settings())
    names = topic_names(topics, topic_opts) or sorted(
        n for n in admin.list_topics(timeout=15).topics if not n.startswith("__")
    )
    if not names:
        return emit([], "")
    docs = [_describe_one(admin, name) for name in names]
    one_named = len(docs) == 1 and bool(topics or topic_opts)
    emit(docs[0] if one_named else docs, lambda: "\n\n".join(_describe_text(d) for d in docs))


def _describe_one(admin: Any, name: str) -> dict[str, Any]:
    from confluent_kafka import TopicCollection, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    from brook.cli.log_dirs import partition_sizes

    futures = admin.describe_topics(TopicCollection([name]), request_timeout=15.0)
    desc = result_of(futures[name], name)
    partitions = sorted(desc.partitions, key=lambda p: p.id)
    offsets: dict[int, dict[str, int | None]] = {p.id: {"start": None, "end": None} for p in partitions}
    for which, spec in (("start", OffsetSpec.earliest()), ("end", OffsetSpec.latest())):
        if not partitions:
            break
        request = {TopicPartition(name, p.id): spec for p in partitions}
        for tp, future in admin.list_offsets(request, request_timeout=15.0).items():
            offsets[tp.partition][which] = result_of(future, f"{name}/{tp.partition}").offset
    cluster = admin.list_topics(topic=name, timeout=15)
    sizes = partition_sizes(
        {b.id: (b.host, b.port) for b in cluster.brokers.values()},
        {p.id: p.leader.id for p in partitions if p.leader is not None},
        name,
    )
    return {
        "name": name,
        # Kafka prints topic ids in URL-safe base64, as kafka-topics.sh --describe shows them
        "topic_id": str(desc.topic_id).replace("+", "-").replace("/", "_")
        if desc.topic_id is not None
        else None,
        "internal": bool(desc.is_internal),
        "partition_count": len(partitions),
        "replication_factor": max((len(p.replicas) for p in partitions), default=0),
        "configs": _non_default_configs(admin, name),
        "partitions": [
            {
                "partition": p.id,
                "leader": p.leader.id if p.leader is not None else None,
                "replicas": [n.id for n in p.replicas],
                "isr": [n.id for n in p.isr],
                "log_start_offset": offsets[p.id]["start"],
                "log_end_offset": offsets[p.id]["end"],
                "size": sizes.get(p.id),
            }
            for p in partitions
        ],
    }


def _non_default_configs(admin: Any, name: str) -> dict[str, str | None] | None:
    """Configs whose source is not a default; None when the broker cannot describe configs."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource, ConfigSource

    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        entries = admin.describe_configs([resource], request_timeout=10.0)[resource].result(timeout=15)
    except KafkaException as exc:
        if is_unsupported(exc):
            return None
        raise CliError(f"{name}: {_error_text(exc)}") from exc
    defaults = {
        ConfigSource.DEFAULT_CONFIG.value,
        ConfigSource.STATIC_BROKER_CONFIG.value,
        ConfigSource.DYNAMIC_BROKER_CONFIG.value,  # broker-level values are not the topic's overrides
        ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
    }
    return {
        k: e.value
        for k, e in sorted(entries.items())
        if not e.is_default and getattr(e.source, "value", e.source) not in defaults
    }


def _describe_text(doc: dict[str, Any]) -> str:
    summary = render_table(
        ["NAME", doc["name"]],
        [
            ("TOPIC-ID", doc["topic_id"]),
            ("INTERNAL", doc["internal"]),
            ("PARTITIONS", doc["partition_count"]),
            ("REPLICATION-FACTOR", doc["replication_factor"]),
        ],
    )
    configs = doc["configs"]
    if configs is None:
        config_text = "CONFIGS\n(the broker does not support DescribeConfigs)"
    elif configs:
        config_text = "CONFIGS\n" + render_table(["KEY", "VALUE"], sorted(configs.items()))
    else:
        config_text = "CONFIGS\n(all defaults)"
    parts = render_table(
        ["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "LOG-END-OFFSET", "SIZE"],
        [
            (
                p["partition"],
                p["leader"],
                p["replicas"],
                p["isr"],
                p["log_start_offset"],
                p["log_end_offset"],
                p["size"],
            )
            for p in doc["partitions"]
        ],
    )
    return f"{summary}\n\n{config_text}\n\n{parts}"


@topic.command()
@_topics_arg
@click.option("--if-exists", is_flag=True, help="Succeed if a topic does not exist")
@client_options
@format_option
def delete(topics: tuple[str, ...], topic_opts: tuple[str, ...], if_exists: bool) -> None:
    """Delete topics."""
    from confluent_kafka import KafkaError

    names = _require_topics(topics, topic_opts)
    admin = admin_client(settings())
    futures = admin.delete_topics(names, request_timeout=15.0)
    fine = (KafkaError.UNKNOWN_TOPIC_OR_PART,) if if_exists else ()
    results = results_by_name(futures, names, key="topic", fine_codes=fine)
    emit(
        results,
        lambda: render_table(
            ["TOPIC", "STATUS"], [(r["topic"], "OK" if r["error"] is None else r["error"]) for r in results]
        ),
    )
    _exit_if_failed(results)


@topic.command(name="add-partitions")
@_topics_arg
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

    names = _require_topics(topics, topic_opts)
    if (num is None) == (total is None):
        raise click.UsageError("give exactly one of --num (partitions to add) or --partitions (new total)")
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
            results.append({"topic": req.topic, "partitions": None, "error": _error_text(exc)})
    emit(
        results,
        lambda: render_table(
            ["TOPIC", "PARTITIONS", "STATUS"],
            [(r["topic"], r["partitions"], "OK" if r["error"] is None else r["error"]) for r in results],
        ),
    )
    _exit_if_failed(results)


@topic.command(name="alter-config")
@_topics_arg
@click.option(
    "--set",
    "--config",
    "--add-config",
    "-s",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a config (repeatable)",
)
@click.option(
    "--delete",
    "--delete-config",
    "-d",
    "deletes",
    multiple=True,
    metavar="KEY",
    help="Reset a config to its default",
)
@client_options
@format_option
def alter_config(
    topics: tuple[str, ...], topic_opts: tuple[str, ...], sets: tuple[str, ...], deletes: tuple[str, ...]
) -> None:
    """Set or reset topic configs (incrementally: other configs keep their values)."""
    names = _require_topics(topics, topic_opts)
    pairs = parse_key_values(sets, "--set")
    if not pairs and not deletes:
        raise click.UsageError("nothing to change: give --set KEY=VALUE or --delete KEY")
    admin = admin_client(settings())
    results = []
    for name in names:
        error = _alter_one(admin, name, pairs, list(deletes))
        results.append({"topic": name, "status": "OK" if error is None else "FAILED", "error": error})
    emit(
        results,
        lambda: render_table(
            ["TOPIC", "STATUS"], [(r["topic"], "OK" if r["error"] is None else r["error"]) for r in results]
        ),
    )
    _exit_if_failed(results)


def _alter_one(admin: Any, name: str, pairs: list[tuple[str, str]], deletes: list[str]) -> str | None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in pairs]
    entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in deletes]
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    try:
        admin.incremental_alter_configs([resource], request_timeout=15.0)[resource].result(timeout=20)
        return None
    except KafkaException as exc:
        if not is_unsupported(exc):
            return _error_text(exc)
    return _alter_legacy(admin, name, pairs, deletes)


def _alter_legacy(admin: Any, name: str, pairs: list[tuple[str, str]], deletes: list[str]) -> str | None:
    """AlterConfigs replaces the whole set: read the non-default configs, change them, write them back."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    current = _non_default_configs(admin, name) or {}
    merged = {k: v for k, v in current.items() if k not in deletes and v is not None}
    merged.update(pairs)
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, set_config=merged)
    try:
        admin.alter_configs([resource], request_timeout=15.0)[resource].result(timeout=20)
        return None
    except KafkaException as exc:
        return _error_text(exc)
