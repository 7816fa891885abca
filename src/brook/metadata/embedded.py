"""EmbeddedMetadataStore: cluster metadata for a single node, kept in one JSON file in the data dir.

Every change is written before it is applied: the new document is built from a copy of the state,
written (retried briefly when it fails, e.g. out of descriptors), and only then does the in-memory
state change. A write that keeps failing raises and changes nothing, so memory and file never disagree.
Changes come from the broker's metadata worker threads, several at once (a topic write and a producer id
block: a Java producer's first send asks for both), so each change holds a lock from reading the state to
applying it; without it the later rename could put back a document built before the other change.

File layout (`brook-metadata.json`, rewritten atomically: temp file, fsync, rename, fsync dir):
    {"version": 1, "cluster_id": str, "broker_configs": {k: v}, "node_broker_configs": {"<id>": {k: v}},
     "next_producer_id": int,
     "client_quotas": [{"entity": [[type, name or null], ...], "values": {key: float}}],
     "scram_credentials": {user: {"SCRAM-SHA-256": "salt=...,stored_key=...,server_key=...,iterations=n"}},
     "topics": {name: {"topic_id": hex, "internal": bool, "configs": {k: v},
                        "partitions": {"0": {"replicas": [..], "leader": n, "leader_epoch": n, "isr": [..]}}}}}
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from brook.common.errors import (
    ErrorCode,
    InvalidPartitions,
    InvalidReplicaAssignment,
    InvalidReplicationFactor,
    OutOfDescriptors,
    TopicAlreadyExists,
    UnknownTopicOrPartition,
)
from brook.common.files import DescriptorReserve, is_out_of_descriptors, write_atomically
from brook.metadata.api import BrokerInfo, ClientQuotaEntity, ElectionResult, PartitionState, TopicState
from brook.metadata.reassignment import Reassignment, cancel, validate_target

logger = logging.getLogger(__name__)

__all__ = ["EmbeddedMetadataStore", "new_cluster_id"]

FILE_NAME = "brook-metadata.json"
_WRITE_RETRY_DELAYS_S = (0.01, 0.05, 0.2)  # short: the store is called on the event loop and metadata threads


P = ParamSpec("P")
R = TypeVar("R")


def _one_change_at_a_time(
    method: Callable[Concatenate[EmbeddedMetadataStore, P], R],
) -> Callable[Concatenate[EmbeddedMetadataStore, P], R]:
    """Read, write and apply under the store's lock: changes from several threads never undo each other."""

    def locked(store: EmbeddedMetadataStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with store._change_lock:
            return method(store, *args, **kwargs)

    locked.__name__ = method.__name__
    locked.__doc__ = method.__doc__
    return locked


def new_cluster_id() -> str:
    """Kafka's format: a random UUID as 22 characters of URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class EmbeddedMetadataStore:
    """Owned by the broker's event loop; every change is persisted before it returns."""

    def __init__(self, data_dir: Path, node_id: int) -> None:
        self._path = data_dir / FILE_NAME
        self._node_id = node_id
        self._brokers: dict[int, BrokerInfo] = {}
        self._topics: dict[str, TopicState] = {}
        self._broker_configs: dict[str, str] = {}  # the cluster default (Kafka's /config/brokers/<default>)
        self._node_broker_configs: dict[int, dict[str, str]] = {}  # per broker (/config/brokers/<id>)
        self._next_producer_id = 0
        self._client_quotas: dict[ClientQuotaEntity, dict[str, float]] = {}
        self._scram: dict[str, dict[str, str]] = {}  # user -> mechanism -> Kafka's salted credential text
        self._reserve = DescriptorReserve()  # so a write can still land when descriptors run out
        self._change_lock = threading.RLock()
        self._encoded_topics = TopicEncodings()  # used and replaced under _change_lock (_commit)
        if self._path.exists():
            self._load()
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._cluster_id = new_cluster_id()
            self._commit()
            logger.info("created cluster metadata cluster_id=%s path=%s", self._cluster_id, self._path)

    @property
    def cluster_id(self) -> str:
        return self._cluster_id

    @property
    def controller_id(self) -> int:
        return self._node_id

    def live_brokers(self) -> list[BrokerInfo]:
        return sorted(self._brokers.values(), key=lambda b: b.node_id)

    def register_broker(self, broker: BrokerInfo) -> None:
        self._brokers[broker.node_id] = broker

    def topics(self) -> Mapping[str, TopicState]:
        return self._topics

    def topic(self, name: str) -> TopicState | None:
        return self._topics.get(name)

    @_one_change_at_a_time
    def create_topic(
        self,
        name: str,
        num_partitions: int,
        replication_factor: int,
        configs: Mapping[str, str],
        *,
        internal: bool = False,
        assignment: Mapping[int, tuple[int, ...]] | None = None,
    ) -> TopicState:
        if name in self._topics:
            raise TopicAlreadyExists(f"Topic '{name}' already exists.")
        self._check_single_broker(assignment)
        if replication_factor > 1:
            raise InvalidReplicationFactor(
                f"Replication factor: {replication_factor} larger than available brokers: 1."
            )
        partitions = {p: self._new_partition(p) for p in range(num_partitions)}
        state = TopicState(name, uuid.uuid4(), partitions, dict(configs), internal)
        self._commit(topics={**self._topics, name: state})
        return state

    @_one_change_at_a_time
    def delete_topic(self, name: str) -> TopicState:
        state = self._require(name)
        self._commit(topics={n: t for n, t in self._topics.items() if n != name})
        return state

    @_one_change_at_a_time
    def add_partitions(
        self, name: str, total_count: int, *, assignment: Mapping[int, tuple[int, ...]] | None = None
    ) -> TopicState:
        self._check_single_broker(assignment)
        state = self._require(name)
        current = len(state.partitions)
        if total_count <= current:
            raise InvalidPartitions(
                f"Topic currently has {current} partitions, which is higher than or equal to "
                f"the requested {total_count}."
            )
        partitions = dict(state.partitions)
        partitions.update({p: self._new_partition(p) for p in range(current, total_count)})
        return self._replace(name, partitions=partitions)

    def _check_single_broker(self, assignment: Mapping[int, tuple[int, ...]] | None) -> None:
        """One broker: an explicit assignment can only name this one."""
        others = sorted({b for replicas in (assignment or {}).values() for b in replicas} - {self._node_id})
        if others:
            raise InvalidReplicaAssignment(
                f"Unknown broker(s) in replica assignment: {', '.join(str(b) for b in others)}."
            )

    @_one_change_at_a_time
    def set_topic_configs(self, name: str, configs: Mapping[str, str]) -> TopicState:
        self._require(name)
        return self._replace(name, configs=dict(configs))

    def broker_configs(self, node_id: int | None = None) -> Mapping[str, str]:
        if node_id is None:
            return self._broker_configs
        return self._node_broker_configs.get(node_id, {})

    @_one_change_at_a_time
    def set_broker_configs(self, configs: Mapping[str, str], node_id: int | None = None) -> None:
        if node_id is None:
            self._commit(broker_configs=dict(configs))
            return
        nodes = {n: c for n, c in self._node_broker_configs.items() if n != node_id}
        if configs:
            nodes[node_id] = dict(configs)
        self._commit(node_broker_configs=nodes)

    @_one_change_at_a_time
    def allocate_producer_ids(self, count: int) -> int:
        first = self._next_producer_id
        self._commit(next_producer_id=first + count)
        return first

    @_one_change_at_a_time
    def update_isr(self, topic: str, partition: int, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        state = self._topics.get(topic)
        current = state.partitions.get(partition) if state is not None else None
        if state is None or current is None or current.leader_epoch != leader_epoch:
            return False
        partitions = dict(state.partitions)
        partitions[partition] = PartitionState(partition, current.replicas, current.leader, leader_epoch, isr)
        self._replace(topic, partitions=partitions)
        return True

    def elect_leaders(
        self, partitions: Iterable[tuple[str, int]] | None, election_type: int, timeout_s: float
    ) -> Mapping[tuple[str, int], ElectionResult]:
        """One node leads every partition it has: no election is ever needed."""
        wanted = (
            [(t, p) for t, state in self._topics.items() for p in state.partitions]
            if partitions is None
            else list(partitions)
        )
        results: dict[tuple[str, int], ElectionResult] = {}
        for name, p in wanted:
            state = self._topics.get(name)
            if state is None or p not in state.partitions:
                results[(name, p)] = (
                    ErrorCode.unknown_topic_or_partition,
                    "The partition does not exist.",
                    -1,
                )
            else:
                results[(name, p)] = (ErrorCode.election_not_needed, None, state.partitions[p].leader)
        return results

    def alter_partition_reassignments(
        self,
        targets: Mapping[tuple[str, int], tuple[int, ...] | None],
        allow_replication_factor_change: bool,
        timeout_s: float,
    ) -> Mapping[tuple[str, int], tuple[int, str | None]]:
        """One node: every partition already has its only possible replica, so a valid target is done at once
        and there is never a reassignment to cancel (the same decisions as a cluster's controller)."""
        results: dict[tuple[str, int], tuple[int, str | None]] = {}
        for (name, p), target in targets.items():
            state = self._topics.get(name)
            current = state.partitions.get(p) if state is not None else None
            if current is None:
                results[(name, p)] = (ErrorCode.unknown_topic_or_partition, "The partition does not exist.")
                continue
            assignment = Reassignment(current.replicas)
            refused = (
                cancel(assignment)
                if target is None
                else validate_target(
                    target, (self._node_id,), len(current.replicas), allow_replication_factor_change
                )
            )
            results[(name, p)] = refused if isinstance(refused, tuple) else (ErrorCode.none, None)
        return results

    def client_quotas(self) -> Mapping[ClientQuotaEntity, Mapping[str, float]]:
        return dict(self._client_quotas)

    @_one_change_at_a_time
    def set_client_quota(self, entity: ClientQuotaEntity, values: Mapping[str, float]) -> None:
        quotas = dict(self._client_quotas)
        if values:
            quotas[entity] = dict(values)
        else:
            quotas.pop(entity, None)
        self._commit(client_quotas=quotas)

    def scram_credentials(self) -> Mapping[str, Mapping[str, str]]:
        return {user: dict(mechanisms) for user, mechanisms in self._scram.items()}

    def scram_credential(self, user: str, mechanism: str) -> str | None:
        return self._scram.get(user, {}).get(mechanism)

    @_one_change_at_a_time
    def set_scram_credential(self, user: str, mechanism: str, credential: str | None) -> None:
        scram = {u: dict(m) for u, m in self._scram.items()}
        mechanisms = scram.setdefault(user, {})
        if credential is None:
            mechanisms.pop(mechanism, None)
        else:
            mechanisms[mechanism] = credential
        if not mechanisms:
            del scram[user]
        self._commit(scram=scram)

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Nothing changes behind this store's back: every change comes through this broker's own calls."""

    def close(self) -> None:
        """Every change is already on disk."""
        self._reserve.close()

    # --- internals ---------------------------------------------------------------------------

    def _new_partition(self, partition: int) -> PartitionState:
        return PartitionState(partition, (self._node_id,), self._node_id, 0, (self._node_id,))

    def _require(self, name: str) -> TopicState:
        state = self._topics.get(name)
        if state is None:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.")
        return state

    def _replace(self, name: str, **changes: Any) -> TopicState:
        old = self._topics[name]
        state = TopicState(
            name,
            old.topic_id,
            changes.get("partitions", old.partitions),
            changes.get("configs", old.configs),
            old.internal,
        )
        self._commit(topics={**self._topics, name: state})
        return state

    def _load(self) -> None:
        doc = json.loads(self._path.read_text())
        self._cluster_id = doc["cluster_id"]
        self._broker_configs = dict(doc.get("broker_configs", {}))
        self._node_broker_configs = {int(n): dict(c) for n, c in doc.get("node_broker_configs", {}).items()}
        self._next_producer_id = int(doc.get("next_producer_id", 0))
        for quota in doc.get("client_quotas", []):
            entity = tuple((str(t), None if n is None else str(n)) for t, n in quota["entity"])
            self._client_quotas[entity] = {str(k): float(v) for k, v in quota["values"].items()}
        self._scram = {str(u): dict(m) for u, m in doc.get("scram_credentials", {}).items()}
        for name, t in doc["topics"].items():
            partitions = {
                int(p): PartitionState(
                    int(p), tuple(s["replicas"]), s["leader"], s["leader_epoch"], tuple(s["isr"])
                )
                for p, s in t["partitions"].items()
            }
            self._topics[name] = TopicState(
                name, uuid.UUID(t["topic_id"]), partitions, t.get("configs", {}), t.get("internal", False)
            )

    def _commit(
        self,
        *,
        topics: dict[str, TopicState] | None = None,
        broker_configs: dict[str, str] | None = None,
        node_broker_configs: dict[int, dict[str, str]] | None = None,
        next_producer_id: int | None = None,
        client_quotas: dict[ClientQuotaEntity, dict[str, float]] | None = None,
        scram: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Write the state with these changes; apply them in memory only once the file holds them."""
        topics = self._topics if topics is None else topics
        broker_configs = self._broker_configs if broker_configs is None else broker_configs
        nodes = self._node_broker_configs if node_broker_configs is None else node_broker_configs
        next_producer_id = self._next_producer_id if next_producer_id is None else next_producer_id
        client_quotas = self._client_quotas if client_quotas is None else client_quotas
        scram = self._scram if scram is None else scram
        data = _document(
            self._cluster_id,
            broker_configs,
            nodes,
            next_producer_id,
            client_quotas,
            topics,
            scram,
            self._encoded_topics,
        )
        self._reserve.replenish()
        for attempt, delay_s in enumerate((*_WRITE_RETRY_DELAYS_S, None)):
            try:
                write_atomically(self._path, data)
                break
            except OSError as exc:
                if is_out_of_descriptors(exc):
                    try:
                        self._reserve.run(lambda: write_atomically(self._path, data))
                        break
                    except OSError as again:
                        exc = again
                if delay_s is None:
                    logger.error("metadata write failed, nothing changed path=%s error=%s", self._path, exc)
                    if is_out_of_descriptors(exc):
                        raise OutOfDescriptors(f"cannot write the cluster metadata: {exc}") from exc
                    raise
                logger.warning(
                    "metadata write failed attempt=%d path=%s error=%s", attempt + 1, self._path, exc
                )
                time.sleep(delay_s)
        self._topics = topics
        self._broker_configs = broker_configs
        self._node_broker_configs = nodes
        self._next_producer_id = next_producer_id
        self._client_quotas = client_quotas
        self._scram = scram


def _document(
    cluster_id: str,
    broker_configs: Mapping[str, str],
    node_broker_configs: Mapping[int, Mapping[str, str]],
    next_producer_id: int,
    client_quotas: Mapping[ClientQuotaEntity, Mapping[str, float]],
    topics: Mapping[str, TopicState],
    scram: Mapping[str, Mapping[str, str]] | None,
    encoded_topics: TopicEncodings,
) -> bytes:
    """The whole file: compact JSON, each topic's part from `encoded_topics` (encoded again only when it changed)."""
    rest = {
        "cluster_id": cluster_id,
        "broker_configs": dict(broker_configs),
        "node_broker_configs": {str(n): dict(c) for n, c in sorted(node_broker_configs.items())},
        "next_producer_id": next_producer_id,
        "client_quotas": [
            {"entity": [list(pair) for pair in entity], "values": dict(values)}
            for entity, values in client_quotas.items()
        ],
        "scram_credentials": {user: dict(m) for user, m in (scram or {}).items()},
    }
    head = json.dumps(rest, sort_keys=True, separators=_COMPACT)
    encoded = encoded_topics.encode(topics)
    return f'{{"version":1,{head[1:-1]},"topics":{encoded}}}'.encode()


_COMPACT = (",", ":")


class TopicEncodings:
    """Each topic's part of the metadata file, kept encoded per TopicState (immutable: a change replaces it). Every
    change writes the whole file; with 10,000 partitions, encoding them all again took 0.2 s with the GIL held
    (the pretty-printing encoder, pure Python: the broker's event loop waited for it on every topic created or
    config altered), 33 ms compact. Now a change encodes only the topics it changed."""

    def __init__(self) -> None:
        self._encoded: dict[str, tuple[TopicState, str]] = {}  # name -> (state, '"name":{...}')

    def encode(self, topics: Mapping[str, TopicState]) -> str:
        """`topics` as one JSON object (by name)."""
        encoded: dict[str, tuple[TopicState, str]] = {}
        for name, t in topics.items():
            last = self._encoded.get(name)
            encoded[name] = (
                last if last is not None and last[0] is t else (t, f"{json.dumps(name)}:{_topic_json(t)}")
            )
        self._encoded = encoded
        return "{" + ",".join(member for _, member in encoded.values()) + "}"


def _topic_json(t: TopicState) -> str:
    return json.dumps(
        {
            "topic_id": t.topic_id.hex,
            "internal": t.internal,
            "configs": dict(t.configs),
            "partitions": {
                str(p): {
                    "replicas": list(s.replicas),
                    "leader": s.leader,
                    "leader_epoch": s.leader_epoch,
                    "isr": list(s.isr),
                }
                for p, s in t.partitions.items()
            },
        },
        sort_keys=True,
        separators=_COMPACT,
    )
