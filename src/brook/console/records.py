"""Records through the console: the message browser (one partition, from an offset, a timestamp or the newest
records, filtered by key and value) and the produce form. Blocking (the handlers run them in a thread)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from brook.console.model import Shown, show_bytes
from brook.console.operations import ConsoleError
from brook.console.snapshot import describe_error

__all__ = ["BrowsedRecord", "browse", "produce_record", "start_offset"]

_SCAN_LIMIT = 10_000  # records read at most for one browse with a filter


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


def produce_record(
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
