"""One look at the cluster, taken through the Kafka protocol: brokers, topics and their partitions with log
start/end offsets and sizes, log dirs, consumer groups with committed offsets.

`take_snapshot` is blocking (confluent-kafka's AdminClient and DescribeLogDirs over a socket): the sampler
runs it in a thread. Each call has a timeout; what fails is recorded in `errors` and the rest is still shown.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException

from brook.console.broker_metrics import TopicBytes, read_topic_bytes
from brook.console.log_dirs import LogDir, LogDirReader
from brook.console.model import broker_states, group_state_name

__all__ = [
    "Broker",
    "Group",
    "Member",
    "MetricsEndpoints",
    "Partition",
    "Snapshot",
    "Topic",
    "describe_error",
    "take_snapshot",
]

# what a cluster call can fail with: the broker's error, the call's time limit, a socket, a bad answer
_FAILURES = (KafkaException, TimeoutError, OSError, ValueError, KeyError)


@dataclass
class Broker:
    node_id: int
    host: str
    port: int
    rack: str | None
    up: bool
    controller: bool
    # registered, but refused, dropped or did not answer the console's own connection
    unreachable: bool = False


@dataclass
class Partition:
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    log_start_offset: int | None = None
    log_end_offset: int | None = None
    size_bytes: int | None = None

    @property
    def messages(self) -> int | None:
        if self.log_start_offset is None or self.log_end_offset is None:
            return None
        return max(0, self.log_end_offset - self.log_start_offset)


@dataclass
class Topic:
    name: str
    internal: bool
    partitions: list[Partition]
    min_insync_replicas: int = 1
    error: str | None = None

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)

    @property
    def messages(self) -> int:
        return sum(p.messages or 0 for p in self.partitions)

    @property
    def log_end_offset_sum(self) -> int:
        return sum(p.log_end_offset or 0 for p in self.partitions)

    @property
    def size_bytes(self) -> int | None:
        sizes = [p.size_bytes for p in self.partitions if p.size_bytes is not None]
        return sum(sizes) if sizes else None


@dataclass
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: list[tuple[str, int]]


@dataclass
class Group:
    group_id: str
    state: str
    protocol_type: str
    members: list[Member]
    coordinator: int | None
    committed: dict[tuple[str, int], int]
    error: str | None = None


@dataclass
class Snapshot:
    taken_at_s: float
    cluster_id: str | None = None
    controller_id: int | None = None
    brokers: list[Broker] = field(default_factory=list)
    topics: dict[str, Topic] = field(default_factory=dict)
    log_dirs: list[LogDir] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    topic_bytes: TopicBytes | None = None  # from the brokers' /metrics, when the console is told where

    @property
    def live_brokers(self) -> set[int]:
        return {b.node_id for b in self.brokers if b.up and not b.unreachable}

    def log_end_offset(self, topic: str, partition: int) -> int | None:
        t = self.topics.get(topic)
        if t is None:
            return None
        for p in t.partitions:
            if p.partition == partition:
                return p.log_end_offset
        return None


@dataclass(frozen=True)
class MetricsEndpoints:
    """Where the brokers' Prometheus metrics are: these URLs, and/or every live broker's host at `port`."""

    urls: tuple[str, ...] = ()
    port: int | None = None

    def for_brokers(self, brokers: list[Broker]) -> list[str]:
        found = list(self.urls)
        if self.port is not None:
            found += [f"http://{b.host}:{self.port}/metrics" for b in brokers if b.up and not b.unreachable]
        return found


def take_snapshot(
    admin: Any,
    timeout_s: float,
    *,
    log_dirs: LogDirReader | None = None,
    with_groups: bool = True,
    metrics: MetricsEndpoints | None = None,
) -> Snapshot:
    """log_dirs: the console's own DescribeLogDirs connections (made with the admin client's properties: TLS,
    SASL); a broker that refuses such a connection is unreachable. Without one, sizes are not read.
    metrics: where to read bytes in/out per topic (none: those columns stay empty)."""
    snap = Snapshot(taken_at_s=time.time())
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        snap.errors.append(f"Metadata: {describe_error(exc)}")
        return snap
    snap.cluster_id = metadata.cluster_id
    snap.controller_id = metadata.controller_id if metadata.controller_id >= 0 else None
    _read_topics(snap, metadata)
    _read_brokers(snap, metadata)
    steps: dict[str, Callable[[Snapshot, Any, float], None]] = {
        "offsets": _read_offsets,
        "min_isr": _read_min_isr,
        "racks": _read_racks,
    }
    if log_dirs is not None:
        steps["log_dirs"] = functools.partial(_read_log_dirs, reader=log_dirs)
    if with_groups:
        steps["groups"] = _read_groups
    if metrics is not None and (metrics.urls or metrics.port is not None):
        steps["metrics"] = functools.partial(_read_metrics, metrics=metrics)
    # side by side: a dead broker costs one timeout, not one per step (each step fills its own fields)
    with ThreadPoolExecutor(len(steps), thread_name_prefix="console-snapshot") as pool:
        futures = {name: pool.submit(step, snap, admin, timeout_s) for name, step in steps.items()}
        for name, future in futures.items():
            try:
                future.result()
            except _FAILURES as exc:  # one failed step leaves its columns empty, the rest is still shown
                snap.errors.append(f"{name}: {describe_error(exc)}")
    return snap


def describe_error(exc: BaseException) -> str:
    """One line for the page: Kafka's error name and message, else the exception's text."""
    arg: Any = exc.args[0] if exc.args else None
    if hasattr(arg, "str") and hasattr(arg, "name"):
        return f"{arg.name()}: {arg.str()}"
    return str(exc) or type(exc).__name__


def _read_topics(snap: Snapshot, metadata: Any) -> None:
    for name, t in sorted(metadata.topics.items()):
        partitions = [
            Partition(p.id, p.leader, list(p.replicas), list(p.isrs))
            for p in sorted(t.partitions.values(), key=lambda p: p.id)
        ]
        snap.topics[name] = Topic(
            name,
            internal=name.startswith("__"),
            partitions=partitions,
            error=None if t.error is None else t.error.str(),
        )


def _read_brokers(snap: Snapshot, metadata: Any) -> None:
    holders = {r for t in snap.topics.values() for p in t.partitions for r in p.replicas}
    for node_id, up in broker_states(metadata.brokers, holders).items():
        b = metadata.brokers.get(node_id)
        snap.brokers.append(
            Broker(node_id, b.host if b else "-", b.port if b else 0, None, up, node_id == snap.controller_id)
        )


def _read_racks(snap: Snapshot, admin: Any, timeout_s: float) -> None:
    """Racks come from DescribeCluster (newer than Metadata: without it they stay unknown)."""
    cluster = admin.describe_cluster(request_timeout=timeout_s).result(timeout=timeout_s)
    racks = {node.id: node.rack for node in cluster.nodes}
    for broker in snap.brokers:
        broker.rack = racks.get(broker.node_id)


def _read_offsets(snap: Snapshot, admin: Any, timeout_s: float) -> None:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    tps = [
        (t.name, p) for t in snap.topics.values() if t.error is None for p in t.partitions if p.leader >= 0
    ]
    if not tps:
        return
    requests = [
        (
            attr,
            admin.list_offsets(
                {TopicPartition(name, p.partition): spec for name, p in tps}, request_timeout=timeout_s
            ),
        )
        for spec, attr in (
            (OffsetSpec.earliest(), "log_start_offset"),
            (OffsetSpec.latest(), "log_end_offset"),
        )
    ]
    deadline = time.monotonic() + timeout_s
    for attr, futures in requests:
        by_tp = {(tp.topic, tp.partition): f for tp, f in futures.items()}
        for name, p in tps:
            try:
                found = by_tp[(name, p.partition)].result(timeout=max(0.0, deadline - time.monotonic()))
            except _FAILURES:  # a partition whose leader does not answer right now: left unknown
                continue
            setattr(p, attr, found.offset)


def _read_min_isr(snap: Snapshot, admin: Any, timeout_s: float) -> None:
    from confluent_kafka.admin import ConfigResource, ResourceType

    names = [t.name for t in snap.topics.values() if t.error is None]
    if not names:
        return
    futures = admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, n) for n in names], request_timeout=timeout_s
    )
    for resource, future in futures.items():
        try:
            entries = future.result(timeout=timeout_s)
        except _FAILURES:
            continue
        entry = entries.get("min.insync.replicas")
        if entry is not None and entry.value is not None and resource.name in snap.topics:
            snap.topics[resource.name].min_insync_replicas = int(entry.value)


def _read_log_dirs(snap: Snapshot, admin: Any, timeout_s: float, *, reader: LogDirReader) -> None:
    leaders = {(t.name, p.partition): p for t in snap.topics.values() for p in t.partitions}
    for broker in snap.brokers:
        if not broker.up:
            continue
        dirs = reader.read(broker.node_id, (broker.host, broker.port), timeout_s)
        if len(dirs) == 1 and dirs[0].unreachable:
            broker.unreachable = True
        for log_dir in dirs:
            snap.log_dirs.append(log_dir)
            for tp, size in log_dir.partition_bytes.items():
                p = leaders.get(tp)
                if p is not None and p.leader == broker.node_id:
                    p.size_bytes = size


def _read_metrics(snap: Snapshot, admin: Any, timeout_s: float, *, metrics: MetricsEndpoints) -> None:
    snap.topic_bytes = read_topic_bytes(metrics.for_brokers(snap.brokers), timeout_s)
    snap.errors.extend(f"metrics: {error}" for error in snap.topic_bytes.errors)


def _read_groups(snap: Snapshot, admin: Any, timeout_s: float) -> None:
    from confluent_kafka import ConsumerGroupTopicPartitions

    listed = admin.list_consumer_groups(request_timeout=timeout_s).result(timeout=timeout_s)
    # a broker that could not list its groups (its coordinator still loading, say): its groups are missing
    # from this snapshot, and the page says why
    snap.errors.extend(f"ListGroups: {describe_error(error)}" for error in listed.errors or [])
    ids = sorted(g.group_id for g in listed.valid)
    if not ids:
        return
    described = admin.describe_consumer_groups(ids, request_timeout=timeout_s)
    for group_id in ids:
        try:
            desc = described[group_id].result(timeout=timeout_s)
        except _FAILURES as exc:
            snap.groups[group_id] = Group(group_id, "?", "", [], None, {}, error=describe_error(exc))
            continue
        members = [
            Member(
                m.member_id,
                m.client_id,
                m.host,
                [(tp.topic, tp.partition) for tp in (m.assignment.topic_partitions if m.assignment else [])],
            )
            for m in desc.members or []
        ]
        group = Group(
            group_id,
            group_state_name(desc.state),
            "consumer" if desc.is_simple_consumer_group is False else "",
            members,
            desc.coordinator.id if desc.coordinator is not None else None,
            {},
        )
        try:
            offsets = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout_s
            )[group_id].result(timeout=timeout_s)
            group.committed = {
                (tp.topic, tp.partition): tp.offset for tp in offsets.topic_partitions or [] if tp.offset >= 0
            }
        except _FAILURES as exc:
            group.error = f"committed offsets: {describe_error(exc)}"
        snap.groups[group_id] = group
