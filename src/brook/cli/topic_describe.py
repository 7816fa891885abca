"""`brook topic describe`: partitions, offsets, sizes and non-default configs (kafka-topics.sh --describe)."""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import (
    REQUEST_TIMEOUT_S,
    admin_client,
    client_options,
    emit,
    format_option,
    render_table,
    result_of,
    settings,
    topic_names,
)
from brook.cli.topic_common import non_default_configs, topics_arg

__all__ = ["describe"]


@click.command()
@topics_arg
@click.option(
    "--under-replicated-partitions",
    "under_replicated",
    is_flag=True,
    help="Only partitions with ISR < replicas",
)
@click.option(
    "--under-min-isr-partitions",
    "under_min_isr",
    is_flag=True,
    help="Only partitions with ISR < min.insync.replicas",
)
@click.option(
    "--at-min-isr-partitions",
    "at_min_isr",
    is_flag=True,
    help="Only partitions with ISR = min.insync.replicas",
)
@click.option(
    "--unavailable-partitions", "unavailable", is_flag=True, help="Only partitions without a live leader"
)
@click.option(
    "--topics-with-overrides",
    "with_overrides",
    is_flag=True,
    help="Only topics with configs set on the topic",
)
@client_options
@format_option
def describe(
    topics: tuple[str, ...],
    topic_opts: tuple[str, ...],
    under_replicated: bool,
    under_min_isr: bool,
    at_min_isr: bool,
    unavailable: bool,
    with_overrides: bool,
) -> None:
    """Partitions (leader, replicas, ISR, log start/end offsets, size) and non-default configs of topics.

    Without a topic name, every topic except internal ones (like kafka-topics.sh --describe). The filters
    are kafka-topics.sh's: each lists only the partitions (or topics) it names, in one table."""
    chosen = [
        flag
        for flag, on in (
            ("--under-replicated-partitions", under_replicated),
            ("--under-min-isr-partitions", under_min_isr),
            ("--at-min-isr-partitions", at_min_isr),
            ("--unavailable-partitions", unavailable),
            ("--topics-with-overrides", with_overrides),
        )
        if on
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"give one of {', '.join(chosen)}")
    admin = admin_client(settings())
    names = topic_names(topics, topic_opts) or sorted(
        n for n in admin.list_topics(timeout=15).topics if not n.startswith("__")
    )
    if not names:
        return emit([], "")
    docs = [_describe_one(admin, name) for name in names]
    if with_overrides:
        docs = [d for d in docs if d["configs"]]
        return emit(docs, lambda: "\n\n".join(_describe_text(d) for d in docs))
    if chosen:
        live = set(admin.list_topics(timeout=15).brokers)
        rows = [
            {"topic": d["name"], **p}
            for d in docs
            for p in d["partitions"]
            if _matches(chosen[0], p, d["min_insync_replicas"], live)
        ]
        return emit(rows, lambda: _filtered_text(rows))
    one_named = len(docs) == 1 and bool(topics or topic_opts)
    emit(docs[0] if one_named else docs, lambda: "\n\n".join(_describe_text(d) for d in docs))


def _matches(flag: str, partition: dict[str, Any], min_isr: int | None, live: set[int]) -> bool:
    """kafka-topics.sh's partition filters (TopicCommand's PartitionDescription)."""
    isr, replicas = len(partition["isr"]), len(partition["replicas"])
    if flag == "--unavailable-partitions":
        return partition["leader"] is None or partition["leader"] not in live
    if flag == "--under-replicated-partitions":
        return isr < replicas
    if min_isr is None:
        return False
    if flag == "--under-min-isr-partitions":
        return isr < min_isr
    return isr == min_isr  # --at-min-isr-partitions


def _filtered_text(rows: list[dict[str, Any]]) -> str:
    return render_table(
        ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR"],
        [(r["topic"], r["partition"], r["leader"], r["replicas"], r["isr"]) for r in rows],
    )


def _min_insync_replicas(admin: Any, name: str) -> int | None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource

    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        entries = admin.describe_configs([resource], request_timeout=10.0)[resource].result(timeout=15)
    except KafkaException:
        return None
    entry = entries.get("min.insync.replicas")
    try:
        return int(entry.value) if entry is not None and entry.value is not None else None
    except ValueError:
        return None


def _describe_one(admin: Any, name: str) -> dict[str, Any]:
    from confluent_kafka import KafkaException, TopicCollection, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    from brook.cli.log_dirs import partition_sizes
    from brook.cli.topic_reassign import moves_of

    futures = admin.describe_topics(TopicCollection([name]), request_timeout=15.0)
    desc = result_of(futures[name], name)
    partitions = sorted(desc.partitions, key=lambda p: p.id)
    offsets: dict[int, dict[str, int | None]] = {p.id: {"start": None, "end": None} for p in partitions}
    cluster = admin.list_topics(topic=name, timeout=15)
    led = [p for p in partitions if p.leader is not None and p.leader.id in cluster.brokers]
    for which, spec in (("start", OffsetSpec.earliest()), ("end", OffsetSpec.latest())):
        if not led:
            break
        request = {TopicPartition(name, p.id): spec for p in led}
        for tp, future in admin.list_offsets(request, request_timeout=15.0).items():
            try:
                offsets[tp.partition][which] = future.result(timeout=REQUEST_TIMEOUT_S).offset
            except KafkaException:
                pass  # a partition whose leader cannot answer now: its offsets show as unknown
    sizes = partition_sizes(
        {b.id: (b.host, b.port) for b in cluster.brokers.values()},
        {p.id: p.leader.id for p in partitions if p.leader is not None},
        name,
    )
    moves = moves_of(cluster, name)
    return {
        "name": name,
        # Kafka prints topic ids in URL-safe base64, as kafka-topics.sh --describe shows them
        "topic_id": str(desc.topic_id).replace("+", "-").replace("/", "_")
        if desc.topic_id is not None
        else None,
        "internal": bool(desc.is_internal),
        "partition_count": len(partitions),
        # as kafka-topics.sh: while replicas move, the factor leaves out those being added
        "replication_factor": max(
            (len(p.replicas) - len(moves.get(p.id, ((), ()))[0]) for p in partitions), default=0
        ),
        "configs": non_default_configs(admin, name),
        "min_insync_replicas": _min_insync_replicas(admin, name),
        "partitions": [
            {
                "partition": p.id,
                "leader": p.leader.id if p.leader is not None else None,
                "replicas": [n.id for n in p.replicas],
                "isr": [n.id for n in p.isr],
                "log_start_offset": offsets[p.id]["start"],
                "log_end_offset": offsets[p.id]["end"],
                "size": sizes.get(p.id),
                **(
                    {"adding_replicas": moves[p.id][0], "removing_replicas": moves[p.id][1]}
                    if p.id in moves
                    else {}
                ),
            }
            for p in partitions
        ],
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
    columns = ["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET", "LOG-END-OFFSET", "SIZE"]
    moving = any("adding_replicas" in p for p in doc["partitions"])
    parts = render_table(
        [*columns, "ADDING", "REMOVING"] if moving else columns,
        [
            (
                p["partition"],
                p["leader"],
                p["replicas"],
                p["isr"],
                p["log_start_offset"],
                p["log_end_offset"],
                p["size"],
                *((p.get("adding_replicas", []), p.get("removing_replicas", [])) if moving else ()),
            )
            for p in doc["partitions"]
        ],
    )
    return f"{summary}\n\n{config_text}\n\n{parts}"
