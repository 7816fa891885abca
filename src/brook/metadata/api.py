"""Cluster metadata: brokers, topics, partition assignments and topic configs.

One `MetadataStore` interface; `EmbeddedMetadataStore` (a file in the data dir) serves a single node,
and `ZooKeeperMetadataStore` (Kafka's znode layout) serves clusters. Partition state carries a leader epoch and a
replica set from day one so replication plugs in without a change of shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "PREFERRED_ELECTION",
    "UNCLEAN_ELECTION",
    "BrokerInfo",
    "ClientQuotaEntity",
    "ElectionResult",
    "Endpoint",
    "MetadataStore",
    "PartitionState",
    "TopicState",
]

# ElectLeaders' election types
PREFERRED_ELECTION = 0
UNCLEAN_ELECTION = 1
# (error code, error message, leader afterwards) of one partition's election
ElectionResult = tuple[int, str | None, int]

# A client quota entity: (entity_type, name) pairs, "user" before "client-id"; name None = <default>.
ClientQuotaEntity = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    listener_name: str
    host: str
    port: int
    security_protocol: str


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """A live broker. host/port: its default address (the inter-broker listener's when it registered its
    listeners); `endpoints`: every advertised listener (empty: only host/port, one PLAINTEXT listener)."""

    node_id: int
    host: str
    port: int
    rack: str | None = None
    endpoints: tuple[Endpoint, ...] = ()

    def address_for(self, listener_name: str) -> tuple[str, int] | None:
        """The address clients of `listener_name` reach this broker on; None if it has no such listener."""
        if not self.endpoints:
            return (self.host, self.port)
        for endpoint in self.endpoints:
            if endpoint.listener_name == listener_name:
                return (endpoint.host, endpoint.port)
        return None


@dataclass(frozen=True, slots=True)
class PartitionState:
    partition: int
    replicas: tuple[int, ...]
    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    # a reassignment in progress (KIP-455; metadata/reassignment.py): `replicas` holds both the original and the
    # target replicas, these say which are being added and removed
    adding_replicas: tuple[int, ...] = ()
    removing_replicas: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    topic_id: uuid.UUID
    partitions: Mapping[int, PartitionState]
    configs: Mapping[str, str] = field(default_factory=dict)
    internal: bool = False


class MetadataStore(Protocol):
    @property
    def cluster_id(self) -> str: ...

    @property
    def controller_id(self) -> int: ...

    def live_brokers(self) -> list[BrokerInfo]: ...

    def register_broker(self, broker: BrokerInfo) -> None: ...

    def topics(self) -> Mapping[str, TopicState]: ...

    def topic(self, name: str) -> TopicState | None: ...

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
        """`assignment` (checked by metadata/assignment.py): the replicas of each partition, as given."""
        ...

    def delete_topic(self, name: str) -> TopicState: ...

    def add_partitions(
        self, name: str, total_count: int, *, assignment: Mapping[int, tuple[int, ...]] | None = None
    ) -> TopicState: ...

    def set_topic_configs(self, name: str, configs: Mapping[str, str]) -> TopicState: ...

    def broker_configs(self, node_id: int | None = None) -> Mapping[str, str]:
        """Dynamic broker configs: the cluster default (None), or one broker's own (Kafka's /config/brokers)."""
        ...

    def set_broker_configs(self, configs: Mapping[str, str], node_id: int | None = None) -> None:
        """Replace the cluster default's (None) or one broker's dynamic configs; empty removes them."""
        ...

    def allocate_producer_ids(self, count: int) -> int:
        """Reserve `count` producer ids, never handed out again; returns the first."""
        ...

    def update_isr(self, topic: str, partition: int, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        """The leader changes a partition's ISR; False if the leader or its epoch changed meanwhile."""
        ...

    def elect_leaders(
        self, partitions: Iterable[tuple[str, int]] | None, election_type: int, timeout_s: float
    ) -> Mapping[tuple[str, int], ElectionResult]:
        """ElectLeaders: a preferred or unclean election for these partitions (None: every partition). Blocks:
        call it off the event loop."""
        ...

    def alter_partition_reassignments(
        self,
        targets: Mapping[tuple[str, int], tuple[int, ...] | None],
        allow_replication_factor_change: bool,
        timeout_s: float,
    ) -> Mapping[tuple[str, int], tuple[int, str | None]]:
        """AlterPartitionReassignments (KIP-455): per partition, start a move to the target replicas, or cancel
        (None) the one in progress; (error code, message) each. Blocks: call it off the event loop."""
        ...

    def client_quotas(self) -> Mapping[ClientQuotaEntity, Mapping[str, float]]:
        """Every client quota config (may block on ZooKeeper: call it off the event loop there)."""
        ...

    def set_client_quota(self, entity: ClientQuotaEntity, values: Mapping[str, float]) -> None:
        """Replace an entity's quota config; no values removes it."""
        ...

    def scram_credentials(self) -> Mapping[str, Mapping[str, str]]:
        """user -> mechanism -> Kafka's salted credential text (blocks on ZooKeeper: off the event loop)."""
        ...

    def scram_credential(self, user: str, mechanism: str) -> str | None:
        """One user's credential for one mechanism (blocks on ZooKeeper: off the event loop)."""
        ...

    def set_scram_credential(self, user: str, mechanism: str, credential: str | None) -> None:
        """Store (None: remove) one user's credential for one mechanism."""
        ...

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback()` on the running event loop after another broker changed the metadata."""
        ...

    def close(self) -> None: ...
