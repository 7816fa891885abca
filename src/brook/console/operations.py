"""What the console's forms do, through confluent-kafka (so against brook and Kafka alike): create, delete
and grow topics, change their configs, browse and produce records, reset a group's committed offsets.

Every function blocks (the web handlers run them in a thread) and bounds each call by `timeout_s`. Errors
come out as ConsoleError with the broker's message, shown on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brook.console.model import clamp_reset, group_state_name
from brook.console.snapshot import describe_error

__all__ = [
    "ConsoleError",
    "add_partitions",
    "alter_topic_configs",
    "create_topic",
    "delete_topic",
    "plan_reset",
    "topic_configs",
]


class ConsoleError(Exception):
    """A failed cluster call, as one line for the page."""


def _result(future: Any, what: str, timeout_s: float) -> Any:
    try:
        return future.result(timeout=timeout_s)
    except Exception as exc:
        raise ConsoleError(f"{what}: {describe_error(exc)}") from exc


def create_topic(
    admin: Any, name: str, partitions: int, replication_factor: int, configs: dict[str, str], timeout_s: float
) -> None:
    from confluent_kafka.admin import NewTopic

    new = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=configs)
    futures = admin.create_topics([new], request_timeout=timeout_s, operation_timeout=timeout_s)
    _result(futures[name], f"create topic {name}", timeout_s)


def delete_topic(admin: Any, name: str, timeout_s: float) -> None:
    futures = admin.delete_topics([name], request_timeout=timeout_s, operation_timeout=timeout_s)
    _result(futures[name], f"delete topic {name}", timeout_s)


def add_partitions(admin: Any, name: str, total: int, timeout_s: float) -> None:
    from confluent_kafka.admin import NewPartitions

    futures = admin.create_partitions(
        [NewPartitions(name, total)], request_timeout=timeout_s, operation_timeout=timeout_s
    )
    _result(futures[name], f"add partitions to {name}", timeout_s)


@dataclass
class ConfigRow:
    name: str
    value: str | None
    source: str
    is_default: bool
    read_only: bool
    sensitive: bool


def topic_configs(admin: Any, name: str, timeout_s: float) -> list[ConfigRow]:
    from confluent_kafka.admin import ConfigResource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, name)
    entries = _result(
        admin.describe_configs([resource], request_timeout=timeout_s)[resource],
        f"configs of {name}",
        timeout_s,
    )
    return [
        ConfigRow(
            e.name,
            e.value,
            getattr(e.source, "name", str(e.source)),
            bool(e.is_default),
            bool(e.is_read_only),
            bool(e.is_sensitive),
        )
        for e in sorted(entries.values(), key=lambda e: e.name)
    ]


def alter_topic_configs(
    admin: Any, name: str, set_values: dict[str, str], reset: list[str], timeout_s: float
) -> None:
    """IncrementalAlterConfigs: SET the given values, DELETE (back to the default) the names in `reset`."""
    from confluent_kafka.admin import (
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    entries = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_values.items()
    ] + [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in reset]
    resource = ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
    futures = admin.incremental_alter_configs([resource], request_timeout=timeout_s)
    _result(futures[resource], f"alter configs of {name}", timeout_s)


_INACTIVE = {"Empty", "Dead"}


def plan_reset(
    admin: Any,
    group_id: str,
    topic: str | None,
    strategy: str,
    value: int | None,
    *,
    execute: bool,
    timeout_s: float,
) -> list[dict[str, Any]]:
    """Rows {topic, partition, current_offset, new_offset} of a reset of the group's committed offsets (of
    one topic, or every topic it has committed), executed only when `execute`; like kafka-consumer-groups.sh,
    only while the group has no active members."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    desc = _result(
        admin.describe_consumer_groups([group_id], request_timeout=timeout_s)[group_id],
        f"group {group_id}",
        timeout_s,
    )
    state = group_state_name(desc.state)
    if state not in _INACTIVE:
        raise ConsoleError(
            f"Offsets of group {group_id} can only be reset while it is inactive; its state is {state}."
        )
    offsets = _result(
        admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout_s
        )[group_id],
        f"committed offsets of {group_id}",
        timeout_s,
    )
    committed = {
        (tp.topic, tp.partition): tp.offset for tp in offsets.topic_partitions or [] if tp.offset >= 0
    }
    if topic:
        metadata = admin.list_topics(topic, timeout=timeout_s)
        t = metadata.topics.get(topic)
        if t is None or t.error is not None:
            raise ConsoleError(f"topic {topic} does not exist")
        tps = [(topic, p) for p in sorted(t.partitions)]
    else:
        tps = sorted(committed)
    if not tps:
        return []

    def offsets_for(spec: Any) -> dict[tuple[str, int], int]:
        futures = admin.list_offsets({TopicPartition(t, p): spec for t, p in tps}, request_timeout=timeout_s)
        return {
            (tp.topic, tp.partition): _result(f, f"offsets of {tp.topic}/{tp.partition}", timeout_s).offset
            for tp, f in futures.items()
        }

    low, high = offsets_for(OffsetSpec.earliest()), offsets_for(OffsetSpec.latest())
    found = offsets_for(OffsetSpec.for_timestamp(value or 0)) if strategy == "timestamp" else {}
    rows = []
    for tp in tps:
        target = found.get(tp, value)
        new = clamp_reset(strategy, low=low[tp], high=high[tp], committed=committed.get(tp), value=target)
        rows.append(
            {"topic": tp[0], "partition": tp[1], "current_offset": committed.get(tp), "new_offset": new}
        )
    if execute:
        request = ConsumerGroupTopicPartitions(
            group_id, [TopicPartition(r["topic"], r["partition"], r["new_offset"]) for r in rows]
        )
        _result(
            admin.alter_consumer_group_offsets([request], request_timeout=timeout_s)[group_id],
            f"reset offsets of {group_id}",
            timeout_s,
        )
    return rows
