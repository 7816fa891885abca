"""The chaos run's clients: idempotent acks=all producers, a committing consumer group, and the final read-back.

Each client runs on a thread of its own and records what the cluster told it, with time.monotonic() times,
in the shapes brook.testing.checker compares.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from brook.testing.checker import Ack, CommitAck, CommitRead

__all__ = ["ConsumerMember", "ProducerLoad", "read_back", "read_committed"]

_QUIET = {"log_level": 3}  # librdkafka's own logs: errors only (disconnects are the point of the run)


def _client_logging(name: str) -> dict[str, Any]:
    """librdkafka's idempotence and protocol debug log in $BROOK_CHAOS_CLIENT_LOG/<name>.log when set."""
    directory = os.environ.get("BROOK_CHAOS_CLIENT_LOG")
    if not directory:
        return dict(_QUIET)
    logger = logging.getLogger(f"chaos.client.{name}")
    logger.propagate = False
    handler = logging.FileHandler(Path(directory) / f"{name}.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return {"debug": "eos,protocol,msg", "logger": logger}


class ProducerLoad(threading.Thread):
    """Sends `<name>:<sequence>` values at `rate_per_s` with enable.idempotence until stop(); keeps every ack.
    A producer that fails fatally (e.g. OUT_OF_ORDER_SEQUENCE) is recorded and replaced by a new one."""

    def __init__(self, name: str, bootstrap: str, topic: str, rate_per_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.bootstrap = bootstrap
        self.topic = topic
        self.rate_per_s = rate_per_s
        self.acks: list[Ack] = []
        self.errors: Counter[str] = Counter()
        self.fatal: list[str] = []
        self.sent = 0
        self._stopping = threading.Event()
        self._producer: Producer | None = None

    def _new_producer(self) -> Producer:
        return Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": 60_000,
                # librdkafka (2.16, and its master) bumps the producer epoch when a pipelined request gets
                # OUT_OF_ORDER_SEQUENCE_NUMBER after an earlier one failed, and then re-sends the messages of
                # *other* partitions whose earlier send may have been written (a timeout, or
                # NOT_ENOUGH_REPLICAS_AFTER_APPEND) under the new epoch: duplicates, which Kafka's broker
                # cannot prevent either (confluentinc/librdkafka#4953; the Java client does not bump there).
                # Seed 13 showed it with this debug log: NOT_ENOUGH_REPLICAS for one request, the ISR back
                # before the next, OUT_OF_ORDER_SEQUENCE for it, the bump, five values twice. One request in
                # flight per connection keeps that client path out of the run.
                "max.in.flight.requests.per.connection": 1,
                **_client_logging(self.name),
            }
        )

    def _on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self.errors[err.name()] += 1
            if err.fatal():
                self.fatal.append(f"{time.strftime('%H:%M:%S')} {err.name()}: {err.str()}")
            return
        offset = msg.offset()  # None: delivered, offset unknown (librdkafka reports some so)
        offset = -1 if offset is None else offset
        self.acks.append(Ack(msg.topic(), msg.partition(), offset, msg.value(), time.monotonic()))

    def run(self) -> None:
        producer = self._producer = self._new_producer()
        interval_s = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        while not self._stopping.is_set():
            value = b"%s:%d" % (self.name.encode(), self.sent)
            try:
                producer.produce(self.topic, value, on_delivery=self._on_delivery)
                self.sent += 1
            except BufferError:
                producer.poll(0.1)
                continue
            except KafkaException as exc:
                self.fatal.append(f"{time.strftime('%H:%M:%S')} produce: {exc}")
                producer.flush(30)  # deliver what can be, then start over with a fresh producer id
                producer = self._producer = self._new_producer()
                continue
            next_at += interval_s
            try:
                producer.poll(0)
                delay = next_at - time.monotonic()
                if delay > 0:
                    producer.poll(delay)
                else:
                    next_at = time.monotonic()
            except KafkaException as exc:  # a fatal error raised from poll: record it, go on with a new one
                self.fatal.append(f"{time.strftime('%H:%M:%S')} poll: {exc}")
                with contextlib.suppress(KafkaException):
                    producer.flush(30)
                producer = self._producer = self._new_producer()

    def stop(self, flush_timeout_s: float) -> int:
        """Stop sending, wait for the outstanding acks; returns how many stayed undelivered."""
        self._stopping.set()
        self.join(10)
        if self._producer is None:
            return 0
        return self._producer.flush(flush_timeout_s)


class ConsumerMember(threading.Thread):
    """A group member: consumes, commits its positions synchronously every `commit_interval_s`, and reads
    the committed offsets of each partition it is assigned."""

    def __init__(self, name: str, bootstrap: str, topic: str, group: str, commit_interval_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self.topic = topic
        self.commit_interval_s = commit_interval_s
        self.commits: list[CommitAck] = []
        self.reads: list[CommitRead] = []
        self.errors: Counter[str] = Counter()
        self.consumed = 0
        self._stopping = threading.Event()
        self._positions: dict[int, int] = {}
        self._assigned = False  # holds partitions: between an assign callback and a revoke
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 1_000,
                **_QUIET,
            }
        )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = bool(partitions)
        started = time.monotonic()
        try:
            committed = consumer.committed(partitions, timeout=10)
        except KafkaException as exc:
            self.errors[f"committed: {exc.args[0].name()}"] += 1
            return
        for tp in committed:
            if tp.error is None:
                self.reads.append(CommitRead(tp.topic, tp.partition, tp.offset, started))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commit()
        for tp in partitions:
            self._positions.pop(tp.partition, None)
        self._assigned = False

    def _commit(self) -> None:
        if not self._positions:
            return
        offsets = [TopicPartition(self.topic, p, o) for p, o in self._positions.items()]
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            self.errors[f"commit: {exc.args[0].name()}"] += 1
            return
        done = time.monotonic()
        for tp in result or []:
            if tp.error is None:
                self.commits.append(CommitAck(tp.topic, tp.partition, tp.offset, done))
            else:
                self.errors[f"commit: {tp.error.name()}"] += 1

    def run(self) -> None:
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_commit = time.monotonic()
        while not self._stopping.is_set():
            self._poll()
            if time.monotonic() - last_commit >= self.commit_interval_s:
                self._commit()
                last_commit = time.monotonic()
        self._commit()
        self._leave()

    def _poll(self) -> None:
        msg = self._consumer.poll(0.1)
        if msg is not None:
            if msg.error() is None:
                self.consumed += 1
                self._positions[msg.partition()] = msg.offset() + 1
            else:
                self.errors[f"poll: {msg.error().name()}"] += 1

    def _leave(self) -> None:
        """Give the assignment back (its revoke commits, as always) before close(). close() would serve that
        revoke itself: confluent-kafka then asks librdkafka for the rebalance protocol while holding the GIL, and
        a closing librdkafka can leave that unanswered (librdkafka#4041), which hung the whole harness (chaos
        seed 69: this thread in close(), every other one waiting for the GIL)."""
        with contextlib.suppress(KafkaException, RuntimeError):
            self._consumer.unsubscribe()
            deadline = time.monotonic() + 30
            while self._assigned and time.monotonic() < deadline:
                self._poll()
            self._consumer.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(60)


def _partitions(bootstrap: str, topic: str) -> list[int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-probe", **_QUIET})
    try:
        return sorted(probe.list_topics(topic, timeout=30).topics[topic].partitions)
    finally:
        probe.close()


def read_back(
    bootstrap: str, topic: str, timeout_s: float = 120.0
) -> dict[tuple[str, int], list[tuple[int, bytes]]]:
    """Every partition from offset 0 up to its high watermark at the time of the call."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "chaos-read-back",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            **_QUIET,
        }
    )
    logs: dict[tuple[str, int], list[tuple[int, bytes]]] = {}
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in _partitions(bootstrap, topic)
        }
        for p in ends:
            logs[(topic, p)] = []
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or (msg.error() is not None and msg.error().code() != KafkaError._PARTITION_EOF):
                continue
            p = msg.partition()
            if msg.error() is None:
                logs[(topic, p)].append((msg.offset(), msg.value()))
                if msg.offset() + 1 < ends[p]:
                    continue
            elif msg.offset() < ends[p]:
                continue
            todo.discard(p)
        if todo:
            raise RuntimeError(
                f"read-back of {topic} partitions {sorted(todo)} did not finish in {timeout_s}s"
            )
    finally:
        consumer.close()
    return logs


_COORDINATOR_MOVING = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError._WAIT_COORD,
        KafkaError._TIMED_OUT,
    }
)


def read_committed(bootstrap: str, topic: str, group: str) -> list[CommitRead]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, **_QUIET})
    deadline = time.monotonic() + 60
    try:
        while True:
            started = time.monotonic()
            try:
                found = consumer.committed(
                    [TopicPartition(topic, p) for p in _partitions(bootstrap, topic)], timeout=30
                )
            except KafkaException as exc:
                # the coordinator may still be moving right after the faults (NOT_COORDINATOR, loading)
                error = exc.args[0]
                if time.monotonic() > deadline or not (
                    error.retriable() or error.code() in _COORDINATOR_MOVING
                ):
                    raise
                time.sleep(0.5)
                continue
            return [
                CommitRead(tp.topic, tp.partition, tp.offset, started) for tp in found if tp.error is None
            ]
    finally:
        consumer.close()
