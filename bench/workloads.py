"""Client workloads through confluent-kafka (librdkafka), the same for both brokers.

Each returns a `Sample`: messages, bytes, wall seconds and the broker's CPU seconds over the timed
part only (read from /proc before and after), so start-up and topic creation are not counted.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from itertools import groupby

import confluent_kafka
from brokers import ProcStats
from confluent_kafka.admin import AdminClient, NewTopic

__all__ = [
    "Sample",
    "consume",
    "create_topic",
    "latency",
    "produce",
    "produce_transactional",
    "wait_for_leaders",
]


@dataclass
class Sample:
    messages: int = 0
    bytes: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    rss_bytes: int = 0
    client_cpu_s: float = 0.0  # this process (the client and librdkafka's threads): is the client the limit?
    client_thread_s: float = 0.0  # the busiest client thread: near wall_s means that thread is the limit
    extra: dict[str, float] = field(default_factory=dict)


class _ClientClock:
    """This process's CPU (all threads) and its busiest thread's, from a start point."""

    def __init__(self) -> None:
        self._me = ProcStats(os.getpid())
        self._process0 = time.process_time()
        self._threads0 = self._me.thread_cpu_s()

    def elapsed(self) -> tuple[float, float]:
        threads = self._me.thread_cpu_s()
        busiest = max((s - self._threads0.get(tid, 0.0) for tid, s in threads.items()), default=0.0)
        return time.process_time() - self._process0, busiest


def create_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    *,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(
        topic, num_partitions=partitions, replication_factor=replication_factor, config=config or {}
    )
    for future in admin.create_topics([new], request_timeout=timeout_s).values():
        try:
            future.result(timeout_s)
        except confluent_kafka.KafkaException as exc:  # a second run on one broker (profile_brook.py)
            if exc.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    wait_for_leaders(bootstrap, topic, partitions, timeout_s)


def wait_for_leaders(bootstrap: str, topic: str, partitions: int, timeout_s: float) -> None:
    """Until metadata shows every partition with a leader, so the first produce is not a retry."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            meta = admin.list_topics(topic, timeout=10).topics.get(topic)
        except confluent_kafka.KafkaException:
            meta = None  # the broker is still starting
        if (
            meta is not None
            and not meta.error
            and len(meta.partitions) == partitions
            and all(p.leader >= 0 and not p.error for p in meta.partitions.values())
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"topic {topic}: not all {partitions} partitions have a leader after {timeout_s}s")


def _producer(bootstrap: str, acks: str, **extra: object) -> confluent_kafka.Producer:
    return confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "linger.ms": 5,
            "batch.size": 1048576,
            "compression.type": "none",
            "enable.idempotence": False,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            **extra,
        }
    )


def produce(
    bootstrap: str,
    stats: ProcStats,
    topic: str,
    *,
    count: int,
    size: int,
    partitions: int,
    acks: str,
    idempotent: bool = False,
) -> Sample:
    """`count` records of `size` bytes, round-robin over partitions; every delivery must succeed.

    Delivery reports reach Python only for failures (librdkafka reports every record it gives up
    on), and the consume workloads read the records back: a Python callback per record would make
    the client, not the broker, the bottleneck. (End offsets are no check: the peer's ListOffsets
    answers the base offset of its last batch, not the log end offset.)
    """
    failures: list[str] = []

    def on_failure(err: object, _msg: object) -> None:
        failures.append(str(err))

    producer = _producer(
        bootstrap,
        acks,
        on_delivery=on_failure,
        **{"delivery.report.only.error": True, "enable.idempotence": idempotent},
    )
    payload = b"x" * size
    produce_one = producer.produce
    cpu0, t0, client0 = stats.cpu_s(), time.perf_counter(), _ClientClock()
    for i in range(count):
        try:
            produce_one(topic, payload, None, i % partitions)
        except BufferError:
            producer.poll(0.001)
            produce_one(topic, payload, None, i % partitions)
        if i & 0x3FFF == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    wall = time.perf_counter() - t0
    cpu = stats.cpu_s() - cpu0
    client_cpu, client_thread = client0.elapsed()
    if remaining or failures:
        raise RuntimeError(f"produce to {topic}: {remaining} undelivered, errors {failures[:3]}")
    return Sample(count, count * size, wall, cpu, stats.rss_bytes(), client_cpu, client_thread)


def produce_transactional(
    bootstrap: str,
    stats: ProcStats,
    topic: str,
    *,
    count: int,
    size: int,
    partitions: int,
    per_transaction: int,
    transactional_id: str,
) -> Sample:
    """`count` records of `size` bytes in transactions of `per_transaction` records (commit_transaction flushes
    them, so every transaction is a round of produce, AddPartitionsToTxn, EndTxn and its markers). Its
    counterpart is `produce` with acks=all and idempotence: the same records, without transactions."""
    failures: list[str] = []

    def on_failure(err: object, _msg: object) -> None:
        failures.append(str(err))

    producer = _producer(
        bootstrap,
        "all",
        on_delivery=on_failure,
        **{
            "delivery.report.only.error": True,
            "enable.idempotence": True,
            "transactional.id": transactional_id,
        },
    )
    producer.init_transactions(10)  # a peer without transactions (Tansu) fails fast
    payload = b"x" * size
    produce_one = producer.produce
    cpu0, t0, client0 = stats.cpu_s(), time.perf_counter(), _ClientClock()
    transactions = 0
    for start in range(0, count, per_transaction):
        producer.begin_transaction()
        for i in range(start, min(count, start + per_transaction)):
            try:
                produce_one(topic, payload, None, i % partitions)
            except BufferError:
                producer.poll(0.001)
                produce_one(topic, payload, None, i % partitions)
        producer.commit_transaction(60)
        transactions += 1
    wall = time.perf_counter() - t0
    cpu = stats.cpu_s() - cpu0
    client_cpu, client_thread = client0.elapsed()
    if failures:
        raise RuntimeError(f"transactional produce to {topic}: errors {failures[:3]}")
    sample = Sample(count, count * size, wall, cpu, stats.rss_bytes(), client_cpu, client_thread)
    sample.extra["transactions_per_s"] = transactions / wall if wall else 0.0
    return sample


def consume(bootstrap: str, stats: ProcStats, topic: str, *, count: int, partitions: int) -> Sample:
    """Read `count` records back from offset 0 of every partition with assign(); check offsets."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{topic}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # librdkafka stops fetching for 1 s once 100k records wait in its queue; with 100 B
            # records that is ten fetches, and the figure would measure that pause, not the broker.
            "fetch.queue.backoff.ms": 5,
        }
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(partitions)])
    next_offset = [0] * partitions
    received = size = 0
    cpu0, t0, client0 = stats.cpu_s(), time.perf_counter(), _ClientClock()
    deadline = time.monotonic() + 120
    while received < count and time.monotonic() < deadline:
        # Ask for no more than is left: consume() waits its whole timeout for a short batch.
        batch = consumer.consume(min(10_000, count - received), 1.0)
        _check_contiguous(topic, batch, next_offset)
        size += sum(map(len, batch))
        received = sum(next_offset)
    wall = time.perf_counter() - t0
    cpu = stats.cpu_s() - cpu0
    client_cpu, client_thread = client0.elapsed()
    consumer.close()
    if received != count:
        raise RuntimeError(f"consume {topic}: got {received} of {count} records")
    return Sample(received, size, wall, cpu, stats.rss_bytes(), client_cpu, client_thread)


def _check_contiguous(topic: str, batch: list[confluent_kafka.Message], next_offset: list[int]) -> None:
    """Each partition's offsets continue exactly where they stopped, with no gap or repeat.

    Done with C-level iteration (map, groupby, list comparison): a Python loop over every record
    made the client, not the broker, the limit of the consume figures. An error message carries
    no valid offset, so it breaks contiguity and is reported then.
    """
    partitions = list(map(confluent_kafka.Message.partition, batch))
    offsets = list(map(confluent_kafka.Message.offset, batch))
    pos = 0
    for p, run in groupby(partitions):
        n = sum(1 for _ in run)
        got = offsets[pos : pos + n]
        if got != list(range(next_offset[p], next_offset[p] + n)):
            errors = [m.error() for m in batch[pos : pos + n] if m.error()]
            raise RuntimeError(
                f"consume {topic}[{p}]: offsets {got[:3]}... expected {next_offset[p]} {errors[:1]}"
            )
        next_offset[p] += n
        pos += n


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def latency(bootstrap: str, stats: ProcStats, topic: str, *, rate: int, seconds: float) -> Sample:
    """acks=all at a fixed rate; latency of produce->poll (consumer) and produce->delivery report.

    The send time travels in the record's value; the consumer runs in its own thread (librdkafka
    releases the GIL while polling), the producer's delivery reports are served by the sending loop.
    """
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}", "enable.auto.commit": False}
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    producer = _producer(bootstrap, "all")
    end_to_end_ms: list[float] = []
    delivery_ms: list[float] = []
    count = int(rate * seconds)
    done = threading.Event()

    def poll_loop() -> None:
        while not done.is_set():
            msg = consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            end_to_end_ms.append((time.perf_counter_ns() - int(msg.value()[:20])) / 1e6)
            if len(end_to_end_ms) >= count:
                done.set()

    def on_delivery(err: object, msg: confluent_kafka.Message) -> None:
        if err is None:
            delivery_ms.append((time.perf_counter_ns() - int(msg.value()[:20])) / 1e6)

    # Let the consumer finish its first (empty) fetch round before the clock starts.
    producer.produce(topic, b"%020d" % time.perf_counter_ns(), partition=0)
    producer.flush(10)
    while consumer.poll(0.5) is None:
        pass
    reader = threading.Thread(target=poll_loop, daemon=True)
    reader.start()
    pad = b"-" * 80
    cpu0, t0, client0 = stats.cpu_s(), time.perf_counter(), _ClientClock()
    sent = 0
    while sent < count:
        due = min(count, int((time.perf_counter() - t0) * rate) + 1)
        while sent < due:
            producer.produce(
                topic, b"%020d" % time.perf_counter_ns() + pad, partition=0, on_delivery=on_delivery
            )
            sent += 1
        producer.poll(0.001)
    producer.flush(30)
    done.wait(30)
    done.set()
    wall = time.perf_counter() - t0
    cpu = stats.cpu_s() - cpu0
    client_cpu, client_thread = client0.elapsed()
    reader.join(5)
    consumer.close()
    e2e, dr = sorted(end_to_end_ms), sorted(delivery_ms)
    extra = {
        "e2e_p50_ms": _percentile(e2e, 0.5),
        "e2e_p99_ms": _percentile(e2e, 0.99),
        "e2e_p999_ms": _percentile(e2e, 0.999),
        "dr_p50_ms": _percentile(dr, 0.5),
        "dr_p99_ms": _percentile(dr, 0.99),
        "dr_p999_ms": _percentile(dr, 0.999),
        "received": float(len(e2e)),
    }
    return Sample(len(e2e), len(e2e) * 100, wall, cpu, stats.rss_bytes(), client_cpu, client_thread, extra)
