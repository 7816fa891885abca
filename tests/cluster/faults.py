"""Helpers for replication fault scenarios: brokers on one ZooKeeper, pause/resume, a background
acks=all idempotent producer that records what was acknowledged, and checks on what the log holds."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from brook.records.batch import iter_batches
from brook.storage.retention import past_retention_bytes
from brook.testing import BrookProcess
from tests.cluster.brokers import brook_on
from tests.integration.helpers import wait_until


class Cluster:
    """N brooks on one ZooKeeper chroot; broker i has node id i and data dir tmp_path/b<i>."""

    def __init__(self, zookeeper: str, zk: Any, tmp_path: Path, n: int, **overrides: str) -> None:
        self.zk = zk
        self.dirs = [tmp_path / f"b{i}" for i in range(n)]
        self.brokers: list[BrookProcess] = [
            brook_on(zookeeper, self.dirs[i], i, **overrides) for i in range(n)
        ]

    def start(self) -> Cluster:
        for b in self.brokers:
            b.start()
        wait_until(lambda: len(self.zk.get_children("/brokers/ids")) == len(self.brokers), timeout_s=30)
        return self

    def stop(self) -> None:
        for b in self.brokers:
            if b.process is not None and b.process.poll() is None:
                os.kill(b.process.pid, signal.SIGCONT)
            b.stop()

    def bootstrap(self, *ids: int) -> str:
        return ",".join(self.brokers[i].bootstrap for i in (ids or range(len(self.brokers))))

    def create_topic(self, topic: str, replication_factor: int, **config: str) -> tuple[int, ...]:
        """One partition; returns its replicas in preference order (the first one leads)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        admin.create_topics([NewTopic(topic, 1, replication_factor, config=config)])[topic].result(30)
        replicas = tuple(json.loads(self.zk.get(f"/brokers/topics/{topic}")[0])["partitions"]["0"])
        wait_until(lambda: sorted(self.state(topic)["isr"]) == sorted(replicas), timeout_s=30)
        assert self.state(topic)["leader"] == replicas[0]
        return replicas

    def state(self, topic: str) -> dict:
        return json.loads(self.zk.get(f"/brokers/topics/{topic}/partitions/0/state")[0])

    def registered(self, i: int) -> bool:
        return str(i) in self.zk.get_children("/brokers/ids")

    def pause(self, *ids: int) -> None:
        for i in ids:
            os.kill(self.brokers[i].process.pid, signal.SIGSTOP)

    def resume(self, *ids: int) -> None:
        for i in ids:
            os.kill(self.brokers[i].process.pid, signal.SIGCONT)

    def reconfigure(self, i: int, **overrides: str) -> None:
        """Restart broker i cleanly with other settings (a clean stop ends its ZooKeeper session)."""
        self.brokers[i].stop()
        self.brokers[i].overrides.update(overrides)
        self.restart_when_deregistered(i)

    def restart_when_deregistered(self, i: int, timeout_s: float = 60) -> None:
        """Start broker i again once ZooKeeper dropped its previous session's registration."""
        wait_until(lambda: not self.registered(i), timeout_s=timeout_s)
        self.brokers[i].start()

    def wait_new_leader(self, topic: str, old_epoch: int, timeout_s: float = 60) -> dict:
        return wait_until(
            lambda: (s := self.state(topic))["leader_epoch"] > old_epoch and s["leader"] >= 0 and s,
            timeout_s=timeout_s,
            interval_s=0.02,
        )

    def log_bytes(self, i: int, topic: str) -> bytes:
        return b"".join(p.read_bytes() for p in sorted((self.dirs[i] / f"{topic}-0").glob("*.log")))

    def wait_identical_logs(self, topic: str, timeout_s: float = 60) -> bytes:
        wait_until(lambda: len({self.log_bytes(i, topic) for i in range(len(self.brokers))}) == 1, timeout_s)
        return self.log_bytes(0, topic)


def fault_tolerant_producer(bootstrap: str) -> Producer:
    """Idempotent, acks=all, retrying for two minutes and refreshing metadata every second: what the fault
    scenarios produce with, so a failover costs retries, never a lost or duplicated record."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 120_000,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )


class AckedProducer:
    """Produces b"<prefix>-<n>" values with acks=all and idempotence from a thread until stopped;
    `acked` holds (value, offset) of every acknowledged record, in acknowledgement order."""

    def __init__(self, bootstrap: str, topic: str, prefix: str = "p", interval_s: float = 0.005) -> None:
        self.topic = topic
        self.prefix = prefix
        self.interval_s = interval_s
        self.acked: list[tuple[bytes, int]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._producer = fault_tolerant_producer(bootstrap)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> AckedProducer:
        self._thread.start()
        return self

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.acked.append((msg.value(), msg.offset()))
        else:
            self.errors.append(str(err))

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                self._producer.produce(
                    self.topic,
                    b"%s-%06d" % (self.prefix.encode(), n),
                    partition=0,
                    on_delivery=self._on_delivery,
                )
                n += 1
            except BufferError:
                pass
            self._producer.poll(self.interval_s)

    def wait_acked(self, count: int, timeout_s: float = 60) -> None:
        wait_until(lambda: len(self.acked) >= count, timeout_s=timeout_s)

    def stop(self, timeout_s: float = 120) -> None:
        self._stop.set()
        self._thread.join(10)
        remaining = self._producer.flush(timeout_s)
        assert remaining == 0, f"{remaining} records were neither acknowledged nor failed"


def read_partition(bootstrap: str, topic: str, timeout_s: float = 60) -> list[tuple[int, bytes]]:
    """(offset, value) of every record below the high watermark, read by a consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            # retention may move the log start past `low` meanwhile: go on from the new log start
            "auto.offset.reset": "earliest",
        }
    )
    try:
        low, high = wait_until(lambda: _watermarks(consumer, topic), timeout_s=30)
        consumer.assign([TopicPartition(topic, 0, low)])
        got: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while (not got or got[-1][0] < high - 1) and high > low and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.offset(), msg.value()))
        assert not got or got[-1][0] >= high - 1, f"read up to {got[-1][0]} of {high} within {timeout_s}s"
        return got
    finally:
        consumer.close()


def controller_of(zk: KazooClient) -> int | None:
    """The controller's broker id; None while there is none (the znode may go between two reads)."""
    try:
        return int(json.loads(zk.get("/controller")[0])["brokerid"])
    except NoNodeError:
        return None


def _watermarks(consumer: Consumer, topic: str) -> tuple[int, int] | None:
    """Partition 0's (low, high), or None while the broker's Metadata shows it without a leader: a broker's
    image follows the state znode a moment after the controller writes it (as a Kafka broker follows its
    controller's UpdateMetadata), and librdkafka takes a leaderless partition as a final _UNKNOWN_PARTITION
    rather than asking again."""
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    except KafkaException as exc:
        if exc.args[0].code() in (KafkaError._UNKNOWN_PARTITION, KafkaError.LEADER_NOT_AVAILABLE):
            return None
        raise


def assert_every_acked_record_once_in_place(
    acked: list[tuple[bytes, int]], log: list[tuple[int, bytes]]
) -> None:
    """Each acknowledged value sits at the offset it was acknowledged with, exactly once in the log,
    and one producer's values appear in the order it sent them."""
    at = dict(log)
    misplaced = [(v, o, at.get(o)) for v, o in acked if at.get(o) != v]
    assert not misplaced, f"{len(misplaced)} acknowledged records lost or overwritten, e.g. {misplaced[:5]}"
    values = [v for _, v in log]
    duplicated = sorted(v for v, n in Counter(values).items() if n > 1)
    assert not duplicated, f"{len(duplicated)} values duplicated, e.g. {duplicated[:5]}"
    prefixes = {v.rsplit(b"-", 1)[0] for v, _ in acked}
    for prefix in prefixes:
        mine = [v for v in values if v.rsplit(b"-", 1)[0] == prefix]
        assert mine == sorted(mine), f"values of producer {prefix!r} are out of order"


def produce_acked(bootstrap: str, topic: str, values: list[bytes], **config: Any) -> list[tuple[bytes, int]]:
    """Produce with acks=all and idempotence; (value, offset) of each acknowledged record."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5, **config}
    )
    acked: list[tuple[bytes, int]] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            acked.append((msg.value(), msg.offset()))

    for value in values:
        while True:
            try:
                producer.produce(topic, value, partition=0, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0
    return acked


def batches_in(data_dir: Path, topic: str) -> dict[int, bytes]:
    """base offset -> batch bytes, over every segment of partition 0 in `data_dir`."""
    data = _segment_bytes(data_dir, topic)
    return {h.base_offset: data[pos : pos + h.size] for pos, h in iter_batches(data)}


def end_offset_in(data_dir: Path, topic: str) -> int:
    """The log end offset of partition 0 as its segment files on disk say (0 if empty)."""
    data = _segment_bytes(data_dir, topic)
    return max((h.last_offset + 1 for _, h in iter_batches(data)), default=0)


class _SegmentFile:
    """A segment as the retention rule sees it: its size (the broker's LogSegment.size is its file's)."""

    def __init__(self, path: Path) -> None:
        self.size = path.stat().st_size


def retention_settled(data_dir: Path, topic: str, retention_bytes: int) -> bool:
    """No segment of partition 0 in `data_dir` can go by retention.bytes any more (the broker's own rule,
    storage/retention.py): a read from here on sees the log start it will keep."""
    while True:
        try:
            segments = [_SegmentFile(p) for p in sorted((data_dir / f"{topic}-0").glob("*.log"))]
        except FileNotFoundError:  # deleted between the listing and the stat: look again
            continue
        return past_retention_bytes(segments, retention_bytes) == 0  # type: ignore[arg-type]


def _segment_bytes(data_dir: Path, topic: str) -> bytes:
    """Partition 0's segment files, oldest first, read while the broker runs: retention may delete the
    oldest between the listing and the read, so a listing whose files did not all stay is read again."""
    while True:
        try:
            return b"".join(p.read_bytes() for p in sorted((data_dir / f"{topic}-0").glob("*.log")))
        except FileNotFoundError:
            continue
