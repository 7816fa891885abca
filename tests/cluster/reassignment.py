"""Helpers for the partition reassignment tests (KIP-455): Kafka's kafka-reassign-partitions tool with a JSON file,
AlterPartitionReassignments (45) / ListPartitionReassignments (46) sent as raw requests to the controller, what
Metadata says of a partition, and a keyed read-back of a whole partition."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

from brook.testing import BrookCluster
from tests.cluster.faults import end_offset_in
from tests.integration.raw_client import RawClient
from tests.tools.kafka_tools import ToolResult, run_tool

NOT_CONTROLLER = 41
QUIET = {"log_level": 3}


@dataclass(frozen=True)
class PartitionView:
    """A partition as a Metadata response shows it."""

    replicas: list[int]
    isr: list[int]
    leader: int
    error: object


@dataclass(frozen=True)
class Ongoing:
    """One entry of a ListPartitionReassignments response."""

    replicas: list[int]
    adding: list[int]
    removing: list[int]


def metadata(cluster: BrookCluster, topic: str, partition: int = 0) -> PartitionView:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
    found = admin.list_topics(topic, timeout=15).topics[topic].partitions[partition]
    return PartitionView(list(found.replicas), list(found.isrs), found.leader, found.error)


def wait_for(cluster: BrookCluster, predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll until predicate returns something truthy (exceptions count as not yet); AssertionError at the deadline."""
    return cluster.wait_until(predicate, timeout_s, what)


# ---- raw requests to the controller -------------------------------------------------------------------------


def controller_request(cluster: BrookCluster, api_key: int, version: int, body: dict[str, Any]) -> Any:
    """Send one request to the broker ZooKeeper names as the controller (as Kafka's admin client does for these
    APIs), again while it answers NOT_CONTROLLER (a controller change in between); returns the kio response."""
    deadline = time.monotonic() + 30
    while True:
        (controller,) = wait_for(
            cluster, lambda: (c := cluster.controller()) is not None and (c,), 30, "a controller"
        )
        with RawClient(cluster.broker(controller).bootstrap, timeout_s=60) as raw:
            response = raw.request(api_key, version, body)
        if int(response.error_code) != NOT_CONTROLLER or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def alter_reassignments(
    cluster: BrookCluster,
    targets: dict[tuple[str, int], list[int] | None],
    *,
    version: int = 0,
    allow_replication_factor_change: bool = True,
) -> tuple[Any, dict[tuple[str, int], tuple[int, str | None]]]:
    """AlterPartitionReassignments: (the response, {(topic, partition): (error code, error message)}).
    A target of None cancels that partition's reassignment."""
    topics: dict[str, list[dict[str, Any]]] = {}
    for (topic, partition), replicas in targets.items():
        topics.setdefault(topic, []).append({"partition_index": partition, "replicas": replicas})
    body: dict[str, Any] = {
        "timeout": 30_000,
        "topics": [{"name": name, "partitions": parts} for name, parts in topics.items()],
    }
    if version >= 1:
        body["allow_replication_factor_change"] = allow_replication_factor_change
    response = controller_request(cluster, 45, version, body)
    errors = {
        (topic.name, p.partition_index): (int(p.error_code), p.error_message)
        for topic in response.responses
        for p in topic.partitions
    }
    return response, errors


def list_reassignments(
    cluster: BrookCluster, partitions: dict[str, list[int]] | None = None
) -> dict[tuple[str, int], Ongoing]:
    """ListPartitionReassignments v0 (all ongoing ones, or those of the named partitions)."""
    topics = (
        None if partitions is None else [{"name": t, "partition_indexes": ps} for t, ps in partitions.items()]
    )
    response = controller_request(cluster, 46, 0, {"timeout": 30_000, "topics": topics})
    assert int(response.error_code) == 0, (response.error_code, response.error_message)
    return {
        (topic.name, p.partition_index): Ongoing(
            list(p.replicas), list(p.adding_replicas), list(p.removing_replicas)
        )
        for topic in response.topics
        for p in topic.partitions
    }


# ---- Kafka's tool ---------------------------------------------------------------------------------------------


class ReassignTool:
    """bin/kafka-reassign-partitions.sh against the cluster, with one reassignment JSON file."""

    def __init__(self, cluster: BrookCluster, directory: Path) -> None:
        self.cluster = cluster
        self.directory = directory

    def plan(self, targets: dict[tuple[str, int], list[int]]) -> Path:
        """The reassignment JSON file Kafka's documentation shows (version 1, partitions with replicas)."""
        path = self.directory / f"reassign-{uuid.uuid4().hex[:8]}.json"
        partitions = [{"topic": t, "partition": p, "replicas": r} for (t, p), r in targets.items()]
        path.write_text(json.dumps({"version": 1, "partitions": partitions}))
        return path

    def run(self, *args: str, expect_exit: int | None = 0) -> ToolResult:
        return run_tool(
            "kafka-reassign-partitions",
            "--bootstrap-server",
            self.cluster.bootstrap,
            *args,
            expect_exit=expect_exit,
        )

    def execute(self, plan: Path, *options: str) -> ToolResult:
        return self.run("--execute", "--reassignment-json-file", str(plan), *options)

    def verify(self, plan: Path, expect_exit: int | None = 0) -> ToolResult:
        return self.run("--verify", "--reassignment-json-file", str(plan), expect_exit=expect_exit)

    def cancel(self, plan: Path) -> ToolResult:
        return self.run("--cancel", "--reassignment-json-file", str(plan))

    def list(self) -> ToolResult:
        return self.run("--list")

    def verify_until_completed(self, plan: Path, partitions: list[str], timeout_s: float) -> ToolResult:
        """Run --verify until it reports every partition ("<topic>-<p>") completed; that run must exit 0 (it
        also clears the replication throttles). Fails with the last output at the deadline."""
        wanted = [f"Reassignment of partition {p} is completed." for p in partitions]
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.verify(plan, expect_exit=None)
            if all(line in result.lines for line in wanted):
                assert result.returncode == 0, result.describe()
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"not completed within {timeout_s}s:\n{result.describe()}")
            time.sleep(1)


def rollback_plan(execute_output: ToolResult) -> dict[tuple[str, int], list[int]]:
    """The replicas --execute printed as the rollback JSON ("Current partition replica assignment")."""
    documents = [line for line in execute_output.lines if line.startswith("{")]
    assert len(documents) == 1, execute_output.describe()
    doc = json.loads(documents[0])
    return {(p["topic"], p["partition"]): p["replicas"] for p in doc["partitions"]}


# ---- data --------------------------------------------------------------------------------------------------------


def read_keyed(
    bootstrap: str, topic: str, partition: int = 0, timeout_s: float = 60
) -> list[tuple[int, bytes, bytes]]:
    """(offset, key, value) of every record from the log start up to the high watermark, read by a consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reassign-check-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            **QUIET,
        }
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        got: list[tuple[int, bytes, bytes]] = []
        if high <= low:
            return got
        consumer.assign([TopicPartition(topic, partition, low)])
        deadline = time.monotonic() + timeout_s
        while (not got or got[-1][0] < high - 1) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is None:
                got.append((msg.offset(), msg.key(), msg.value()))
            else:
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
        assert got, f"read nothing of {topic}-{partition} (end {high})"
        assert got[-1][0] >= high - 1, f"read {len(got)} records of {topic}-{partition} (end {high})"
        return got
    finally:
        consumer.close()


def partition_dir(cluster: BrookCluster, node_id: int, topic: str, partition: int = 0) -> Path:
    return cluster.broker(node_id).data_dir / f"{topic}-{partition}"


def wait_high_watermark(cluster: BrookCluster, topic: str, end: int, timeout_s: float = 60) -> None:
    """Wait until the partition's leader shows a high watermark of at least `end`: a new leader's high watermark
    may trail its log for a moment after a failover (it advances as the followers fetch), as in Kafka.

    Each attempt asks with a new client: one librdkafka consumer created in the moment of a failover was seen to
    answer "Unknown partition" for over 60 s while every live broker's Metadata and ListOffsets were right (about
    1 run in 30 under load; the report in the failure message is what the brokers said)."""
    seen: list[object] = []

    def reached() -> bool:
        consumer = Consumer(
            {"bootstrap.servers": cluster.bootstrap, "group.id": "reassign-watermarks", **QUIET}
        )
        try:
            seen.append(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5, cached=False)[1])
        except Exception as exc:  # noqa: BLE001 - kept for the failure message
            seen.append(repr(exc))
            return False
        finally:
            consumer.close()
        return isinstance(seen[-1], int) and seen[-1] >= end

    try:
        wait_for(cluster, reached, timeout_s, f"{topic}-0's high watermark reaching {end}")
    except AssertionError as exc:
        ends = {n: end_offset_in(cluster.broker(n).data_dir, topic) for n in cluster.brokers}
        raise AssertionError(
            f"{exc}: last seen {seen[-3:]}, state {cluster.partition_state(topic, 0)}, "
            f"{metadata(cluster, topic)}, log end offsets on disk {ends}, "
            f"ListOffsets(latest) of each running broker {list_offsets_everywhere(cluster, topic)}, "
            f"Metadata of each running broker {metadata_everywhere(cluster, topic)}"
        ) from None


THROTTLE_CONFIGS = {
    "topic": ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas"),
    "broker": ("leader.replication.throttled.rate", "follower.replication.throttled.rate"),
}
_DYNAMIC = {ConfigSource.DYNAMIC_TOPIC_CONFIG.value, ConfigSource.DYNAMIC_BROKER_CONFIG.value}


def throttles(cluster: BrookCluster, topic: str) -> dict[str, dict[str, str]]:
    """The replication throttles set (as dynamic overrides, DescribeConfigs) on the topic and on each broker:
    {"topic": {name: value}, "broker 0": {...}, ...}; an empty dict where none is set."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
    resources = {"topic": ConfigResource("topic", topic)}
    resources.update({f"broker {n}": ConfigResource("broker", str(n)) for n in cluster.brokers})
    found: dict[str, dict[str, str]] = {}
    for label, resource in resources.items():  # librdkafka takes one broker resource per call
        (future,) = admin.describe_configs([resource], request_timeout=30).values()
        entries = future.result(30)
        found[label] = {
            name: entries[name].value
            for name in THROTTLE_CONFIGS[label.split()[0]]
            if name in entries and getattr(entries[name].source, "value", entries[name].source) in _DYNAMIC
        }
    return found


def list_offsets_everywhere(cluster: BrookCluster, topic: str) -> dict[int, object]:
    """What ListOffsets (v5, latest, a consumer's read_uncommitted) answers for partition 0 on each running broker:
    (error code, offset), or the exception."""
    body = {
        "replica_id": -1,
        "isolation_level": 0,
        "topics": [{"name": topic, "partitions": [{"partition_index": 0, "timestamp": -1}]}],
    }
    answers: dict[int, object] = {}
    for node_id in cluster.running():
        try:
            with RawClient(cluster.broker(node_id).bootstrap) as raw:
                found = raw.request(2, 5, body).topics[0].partitions[0]
            answers[node_id] = (int(found.error_code), found.offset)
        except Exception as exc:  # noqa: BLE001 - a diagnostic
            answers[node_id] = repr(exc)
    return answers


def metadata_everywhere(cluster: BrookCluster, topic: str) -> dict[int, object]:
    """What a Metadata request (v12, as librdkafka sends) for the topic answers on each running broker: the brokers
    it names, the topic's error code and id, its partitions as (index, error code, leader, leader epoch, replicas,
    ISR); or the exception."""
    body = {"topics": [{"name": topic, "topic_id": uuid.UUID(int=0)}], "allow_auto_topic_creation": False}
    answers: dict[int, object] = {}
    for node_id in cluster.running():
        try:
            with RawClient(cluster.broker(node_id).bootstrap) as raw:
                response = raw.request(3, 12, body)
            (found,) = response.topics
            answers[node_id] = (
                sorted(b.node_id for b in response.brokers),
                int(found.error_code),
                str(found.topic_id),
                [
                    (
                        p.partition_index,
                        int(p.error_code),
                        p.leader_id,
                        p.leader_epoch,
                        p.replica_nodes,
                        p.isr_nodes,
                    )
                    for p in found.partitions
                ],
            )
        except Exception as exc:  # noqa: BLE001 - a diagnostic
            answers[node_id] = repr(exc)
    return answers
