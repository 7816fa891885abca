"""What the console's forms do, through confluent-kafka (so against brook and Kafka alike): create, delete
and grow topics, change their configs, browse and produce records, reset a group's committed offsets.

Every function blocks (the web handlers run them in a thread) and bounds each call by `timeout_s`. Errors
come out as ConsoleError with the broker's message, shown on the page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from brook.console.model import Shown, clamp_reset, group_state_name, show_bytes
from brook.console.snapshot import describe_error

__all__ = [
    "BrowsedRecord",
    "ConsoleError",
    "add_partitions",
    "alter_topic_configs",
    "browse",
    "create_topic",
    "delete_topic",
    "plan_reset",
    "produce",
    "topic_configs",
]

_SCAN_LIMIT = 10_000  # records read at most for one browse with a filter


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


@dataclass
class BrowsedRecord:
    partition: int
    offset: int
    timestamp_ms: int
    key: Shown
    value: Shown
    headers: list[tuple[str, Shown]]


def _consumer(config: dict[str, Any]) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "group.id": "brook-console-browser",  # never joined, never committed: partitions are assigned
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            **config,
        }
    )


def start_offset(
    consumer: Any, topic: str, partition: int, mode: str, value: int, limit: int, timeout_s: float
) -> tuple[int, int]:
    """(the offset a browse starts at, the high watermark now): the start is `value` itself (offset), the
    first offset at or after the timestamp `value` (timestamp), or the last `limit` records (newest)."""
    from confluent_kafka import TopicPartition

    low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
    if mode == "newest":
        return max(int(low), int(high) - limit), int(high)
    if mode == "timestamp":
        found = consumer.offsets_for_times([TopicPartition(topic, partition, value)], timeout=timeout_s)
        offset = int(found[0].offset) if found else -1
        return (int(high) if offset < 0 else offset), int(high)
    return min(max(value, int(low)), int(high)), int(high)


def browse(
    config: dict[str, Any],
    topic: str,
    partition: int,
    *,
    mode: str,
    value: int,
    limit: int,
    key_filter: str,
    value_filter: str,
    timeout_s: float,
) -> tuple[int, list[BrowsedRecord]]:
    """(start offset, up to `limit` records from it that contain key_filter in the key and value_filter in
    the value). Reads at most _SCAN_LIMIT records and stops at the log end or after timeout_s."""
    from confluent_kafka import KafkaError, TopicPartition

    consumer = _consumer(config)
    try:
        start, high = start_offset(consumer, topic, partition, mode, value, limit, timeout_s)
        found: list[BrowsedRecord] = []
        if start >= high:
            return start, found
        consumer.assign([TopicPartition(topic, partition, start)])
        scanned = 0
        deadline = time.monotonic() + timeout_s
        key_needle, value_needle = key_filter.encode(), value_filter.encode()
        while len(found) < limit and scanned < _SCAN_LIMIT and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=500, timeout=0.05)
            eof = False
            for msg in batch:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        eof = True
                        continue
                    raise ConsoleError(f"fetch {topic}/{partition}: {err.str()}")
                scanned += 1
                eof = eof or msg.offset() + 1 >= high
                key, val = msg.key(), msg.value()
                if key_needle and key_needle not in (key or b""):
                    continue
                if value_needle and value_needle not in (val or b""):
                    continue
                found.append(
                    BrowsedRecord(
                        partition,
                        msg.offset(),
                        msg.timestamp()[1],
                        show_bytes(key),
                        show_bytes(val),
                        [(k, show_bytes(v)) for k, v in msg.headers() or []],
                    )
                )
                if len(found) >= limit:
                    break
            if eof:
                break
        return start, found
    except ConsoleError:
        raise
    except Exception as exc:
        raise ConsoleError(f"browse {topic}/{partition}: {describe_error(exc)}") from exc
    finally:
        consumer.close()


def produce(
    producer: Any,
    topic: str,
    partition: int | None,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    timeout_s: float,
) -> tuple[int, int]:
    """(partition, offset) of the acknowledged record."""
    outcome: dict[str, Any] = {}

    def delivered(err: Any, msg: Any) -> None:
        outcome["err"], outcome["msg"] = err, msg

    kwargs: dict[str, Any] = {"key": key, "value": value, "headers": headers, "on_delivery": delivered}
    if partition is not None:
        kwargs["partition"] = partition
    try:
        producer.produce(topic, **kwargs)
    except Exception as exc:
        raise ConsoleError(f"produce to {topic}: {describe_error(exc)}") from exc
    producer.flush(timeout_s)
    if "msg" not in outcome:
        raise ConsoleError(f"produce to {topic}: no acknowledgement within {timeout_s:.0f} s")
    if outcome["err"] is not None:
        raise ConsoleError(f"produce to {topic}: {outcome['err'].str()}")
    msg = outcome["msg"]
    return msg.partition(), msg.offset()


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
