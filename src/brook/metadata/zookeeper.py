"""ZooKeeperMetadataStore: cluster metadata in Apache ZooKeeper (via kazoo), in Kafka's own znode layout.

Kafka's layout, so Kafka habits and tools (zkCli, zookeeper-shell) carry over (all JSON unless noted):
    /cluster/id                                  {"version": "1", "id": "<22-char base64 uuid>"}
    /controller_epoch                            "<n>" (plain integer), bumped by each newly elected controller
    /controller                       ephemeral  {"version": 1, "brokerid": n, "timestamp": "<ms>"}
    /brokers/ids/<id>                 ephemeral  {"version": 5, "host", "port", "endpoints": ["PLAINTEXT://h:p"],
                                                  "listener_security_protocol_map", "jmx_port", "rack"?, "timestamp"}
    /brokers/topics/<topic>                      {"version": 2, "partitions": {"0": [replicas]}, "topic_id": "<b64>",
                                                  "adding_replicas": {}, "removing_replicas": {}}
    /brokers/topics/<topic>/partitions/<p>/state {"version": 1, "controller_epoch", "leader", "leader_epoch", "isr"}
    /config/topics/<topic>                       {"version": 1, "config": {k: v}}
    /config/brokers/<default>                    {"version": 1, "config": {k: v}}
    /config/clients/..., /config/users/...       client quotas (zk_client_quotas.py)
    /latest_producer_id_block                    {"version": 1, "broker": n, "block_start": "<first>",
                                                  "block_end": "<last, inclusive>"}
Topics are deleted directly (no /admin/delete_topics). Internal topics are recognised by name, as Kafka does.

Threads. Reads (`topics()`, `topic()`, `live_brokers()`, `controller_id`, `broker_configs()`) never touch
ZooKeeper: they return the current `ClusterImage`, an immutable snapshot. kazoo watches (on kazoo's callback
thread) re-read what changed and swap in a new snapshot under `_lock`; each topic/broker read carries a
freshness (the highest zxid it saw) so a slow, stale read never overwrites a newer one. Listeners are told on
the event loop (`loop.call_soon_threadsafe`), never on kazoo's thread.

Writes (create/delete topic, partitions, configs, producer id blocks, registration) are synchronous kazoo
calls made from the caller's thread, usually the event loop: each blocks for a few ZooKeeper round trips
(milliseconds on loopback), then re-reads what it wrote so the caller's next read already sees it.
Multi-znode writes are ZooKeeper transactions, so watchers never see half a topic.

Replication. A partition's leader writes ISR changes to its state znode itself (`update_isr`, a
compare-and-set on the znode version, refused if the leader or its epoch changed). The controller (the
holder of /controller) watches /brokers/ids: when a partition's leader is gone it elects the first live ISR
member in replica order, bumps the leader epoch and drops dead brokers from the ISR (`elect_leader`, a pure
function); with no live ISR member the partition goes offline (leader -1) and keeps its ISR, as Kafka does
with unclean election disabled. A newly elected controller runs the same pass at once.
Not here yet: /config/changes notifications, /admin/reassign_partitions, /isr_change_notification.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, cast

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from brook.common.clock import Clock, SystemClock
from brook.common.errors import (
    InvalidPartitions,
    InvalidReplicationFactor,
    TopicAlreadyExists,
    UnknownTopicOrPartition,
)
from brook.metadata.api import BrokerInfo, ClientQuotaEntity, PartitionState, TopicState
from brook.metadata.embedded import new_cluster_id
from brook.metadata.zk_client_quotas import read_client_quotas, write_client_quota

logger = logging.getLogger(__name__)

_REREGISTER_ATTEMPTS = 5

__all__ = [
    "ClusterImage",
    "ZooKeeperMetadataStore",
    "assign_replicas",
    "decode_topic_id",
    "elect_leader",
    "encode_topic_id",
]

CLUSTER_ID_PATH = "/cluster/id"
CONTROLLER_PATH = "/controller"
CONTROLLER_EPOCH_PATH = "/controller_epoch"
BROKER_IDS_PATH = "/brokers/ids"
TOPICS_PATH = "/brokers/topics"
TOPIC_CONFIGS_PATH = "/config/topics"
BROKER_CONFIGS_PATH = "/config/brokers"
DEFAULT_BROKER_CONFIG_PATH = "/config/brokers/<default>"
PRODUCER_ID_BLOCK_PATH = "/latest_producer_id_block"
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})

Listener = Callable[[], None]


def encode_topic_id(topic_id: uuid.UUID) -> str:
    """Kafka's Uuid.toString: URL-safe base64 of the 16 bytes, without padding."""
    return base64.urlsafe_b64encode(topic_id.bytes).decode().rstrip("=")


def decode_topic_id(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def assign_replicas(
    brokers: list[int],
    num_partitions: int,
    replication_factor: int,
    *,
    start_index: int = 0,
    replica_shift: int = 0,
    first_partition: int = 0,
) -> dict[int, tuple[int, ...]]:
    """Rack-unaware placement in the manner of Kafka's AdminUtils.assignReplicasToBrokers.

    Partition p's first replica (its preferred leader) is broker (p + start_index) mod n; the followers step
    away from it by a shift that grows each time the partitions wrap around the broker list, so leaders and
    followers both spread evenly and no broker holds two replicas of one partition.
    """
    n = len(brokers)
    if replication_factor <= 0:
        raise InvalidReplicationFactor("Replication factor must be larger than 0.")
    if replication_factor > n:
        raise InvalidReplicationFactor(
            f"Replication factor: {replication_factor} larger than available brokers: {n}."
        )
    ordered = sorted(brokers)
    assignment: dict[int, tuple[int, ...]] = {}
    shift = replica_shift
    for p in range(first_partition, first_partition + num_partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start_index) % n
        replicas = [ordered[first]]
        for j in range(replication_factor - 1):
            # the followers never land on `first`: the step is 1..n-1
            replicas.append(ordered[(first + 1 + (shift + j) % (n - 1)) % n])
        assignment[p] = tuple(replicas)
    return assignment


def elect_leader(
    replicas: tuple[int, ...], leader: int, leader_epoch: int, isr: tuple[int, ...], live: set[int]
) -> tuple[int, int, tuple[int, ...]] | None:
    """The controller's decision for one partition: (leader, leader_epoch, isr), or None to leave it be.

    A live leader keeps its epoch; dead followers leave the ISR. A dead (or absent) leader is replaced by the
    first live ISR member in replica order, in a new epoch. No live ISR member: offline (leader -1), ISR
    kept, so only a replica that had every committed record can lead again (no unclean election).
    """
    live_isr = tuple(r for r in isr if r in live)
    if leader in live:
        if live_isr == isr:
            return None
        return leader, leader_epoch, live_isr
    candidates = [r for r in replicas if r in live_isr]
    if not candidates:
        return None if leader == -1 else (-1, leader_epoch + 1, isr)
    return candidates[0], leader_epoch + 1, live_isr


@dataclass(frozen=True, slots=True)
class ClusterImage:
    """One immutable snapshot of what this broker knows about the cluster (swapped whole, never mutated)."""

    topics: Mapping[str, TopicState] = field(default_factory=lambda: MappingProxyType({}))
    brokers: Mapping[int, BrokerInfo] = field(default_factory=lambda: MappingProxyType({}))
    controller_id: int = -1
    broker_configs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def _dumps(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _loads(data: bytes | None) -> dict[str, Any] | None:
    if not data:
        return None
    doc = json.loads(data)
    return cast("dict[str, Any]", doc) if isinstance(doc, dict) else None


class ZooKeeperMetadataStore:
    """Lives as long as the broker; `close()` ends the ZooKeeper session, which removes our ephemeral znodes.

    Safe to read from any thread; writes are meant for the event loop (one writer per broker).
    """

    def __init__(
        self,
        connect: str,
        node_id: int,
        *,
        session_timeout_ms: int = 18_000,
        connection_timeout_ms: int = 18_000,
        clock: Clock | None = None,
    ) -> None:
        self._node_id = node_id
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()  # guards _image, _freshness and _watched
        self._image = ClusterImage()
        self._topic_freshness: dict[str, int] = {}
        self._brokers_freshness = -1
        self._watched: set[str] = set()  # znode paths with a DataWatch of ours
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []
        self._registration: BrokerInfo | None = None
        self._controller_epoch = 0
        self._closed = False
        self._session_lost = False
        _ensure_chroot(connect, connection_timeout_ms / 1000)
        self._zk = KazooClient(hosts=connect, timeout=session_timeout_ms / 1000)
        self._zk.start(timeout=connection_timeout_ms / 1000)
        self._zk.add_listener(self._on_session_state)
        for path in (BROKER_IDS_PATH, TOPICS_PATH, TOPIC_CONFIGS_PATH, BROKER_CONFIGS_PATH, "/cluster"):
            self._zk.ensure_path(path)
        self._cluster_id = self._get_or_create_cluster_id()
        # Each recipe calls back at once on this thread (the initial load), then on kazoo's thread per change.
        ChildrenWatch(self._zk, TOPICS_PATH, self._on_topic_names)
        ChildrenWatch(self._zk, BROKER_IDS_PATH, self._on_broker_ids)
        DataWatch(self._zk, CONTROLLER_PATH, self._on_controller)
        DataWatch(self._zk, DEFAULT_BROKER_CONFIG_PATH, self._on_broker_configs)
        logger.info(
            "connected to zookeeper connect=%s cluster_id=%s topics=%d",
            connect,
            self._cluster_id,
            len(self._image.topics),
        )

    # --- reads: the cluster image, no ZooKeeper round trip ------------------------------------------

    @property
    def cluster_id(self) -> str:
        return self._cluster_id

    @property
    def controller_id(self) -> int:
        return self._image.controller_id

    @property
    def image(self) -> ClusterImage:
        return self._image

    def live_brokers(self) -> list[BrokerInfo]:
        return sorted(self._image.brokers.values(), key=lambda b: b.node_id)

    def topics(self) -> Mapping[str, TopicState]:
        return self._image.topics

    def topic(self, name: str) -> TopicState | None:
        return self._image.topics.get(name)

    def broker_configs(self) -> Mapping[str, str]:
        return self._image.broker_configs

    def client_quotas(self) -> Mapping[ClientQuotaEntity, Mapping[str, float]]:
        """Read from ZooKeeper each time (zk_client_quotas.py): call it off the event loop."""
        return read_client_quotas(self._zk)

    def set_client_quota(self, entity: ClientQuotaEntity, values: Mapping[str, float]) -> None:
        write_client_quota(self._zk, entity, values)

    def add_listener(self, callback: Listener, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Call `callback()` on `loop` (default: the running loop) after topics or brokers change."""
        self._listeners.append((loop or asyncio.get_running_loop(), callback))

    # --- writes: synchronous kazoo calls ---------------------------------------------------------

    def register_broker(self, broker: BrokerInfo) -> None:
        """Create our ephemeral /brokers/ids/<id>, then stand for controller (first to create it wins)."""
        self._registration = broker
        self._create_broker_znode(broker)
        self._refresh_brokers()
        self._maybe_elect()

    def create_topic(
        self,
        name: str,
        num_partitions: int,
        replication_factor: int,
        configs: Mapping[str, str],
        *,
        internal: bool = False,
    ) -> TopicState:
        if name in self._image.topics or self._zk.exists(f"{TOPICS_PATH}/{name}"):
            raise TopicAlreadyExists(f"Topic '{name}' already exists.")
        brokers = self._broker_ids()
        assignment = assign_replicas(
            brokers,
            num_partitions,
            replication_factor,
            start_index=random.randrange(len(brokers)),
            replica_shift=random.randrange(len(brokers)),
        )
        topic_id = uuid.uuid4()
        txn = self._zk.transaction()
        txn.create(f"{TOPICS_PATH}/{name}", _dumps(self._topic_doc(topic_id, assignment)))
        txn.create(f"{TOPICS_PATH}/{name}/partitions", b"")
        self._add_partition_states(txn, name, assignment)
        config_path = f"{TOPIC_CONFIGS_PATH}/{name}"
        config_doc = _dumps({"version": 1, "config": dict(configs)})
        if self._zk.exists(config_path):  # Kafka leaves an old topic's config behind; overwrite it
            txn.set_data(config_path, config_doc)
        else:
            txn.create(config_path, config_doc)
        self._commit(txn, on_exists=lambda: TopicAlreadyExists(f"Topic '{name}' already exists."))
        logger.info("created topic in zookeeper name=%s assignment=%s", name, assignment)
        return self._require_fresh(name)

    def delete_topic(self, name: str) -> TopicState:
        state = self._require(name)
        topic_path = f"{TOPICS_PATH}/{name}"
        for _ in range(10):  # retried if partitions are added meanwhile
            txn = self._zk.transaction()
            try:
                partitions = self._zk.get_children(f"{topic_path}/partitions")
            except NoNodeError:
                partitions = []
            for p in partitions:
                txn.delete(f"{topic_path}/partitions/{p}/state")
                txn.delete(f"{topic_path}/partitions/{p}")
            if partitions or self._zk.exists(f"{topic_path}/partitions"):
                txn.delete(f"{topic_path}/partitions")
            txn.delete(topic_path)
            if self._zk.exists(f"{TOPIC_CONFIGS_PATH}/{name}"):
                txn.delete(f"{TOPIC_CONFIGS_PATH}/{name}")
            try:
                self._commit(txn)
                break
            except NotEmptyError:
                continue
            except NoNodeError as exc:
                raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.") from exc
        self._refresh_topic(name)
        logger.info("deleted topic in zookeeper name=%s", name)
        return state

    def add_partitions(self, name: str, total_count: int) -> TopicState:
        data, stat = self._get_or_unknown(f"{TOPICS_PATH}/{name}", name)
        doc = _loads(data) or {}
        assignment = {int(p): tuple(r) for p, r in doc.get("partitions", {}).items()}
        current = len(assignment)
        if total_count <= current:
            raise InvalidPartitions(
                f"Topic currently has {current} partitions, which is higher than or equal to "
                f"the requested {total_count}."
            )
        brokers = self._broker_ids()
        replication_factor = len(assignment.get(0, (self._node_id,)))
        # like Kafka: continue the placement from partition 0's leader, so the new ones keep the spread
        leader0 = assignment[0][0] if assignment.get(0) else brokers[0]
        start = sorted(brokers).index(leader0) if leader0 in brokers else 0
        added = assign_replicas(
            brokers, total_count - current, replication_factor, start_index=start, first_partition=current
        )
        doc["partitions"] = {str(p): list(r) for p, r in sorted({**assignment, **added}.items())}
        txn = self._zk.transaction()
        txn.set_data(f"{TOPICS_PATH}/{name}", _dumps(doc), version=stat.version)
        self._add_partition_states(txn, name, added)
        self._commit(txn)
        logger.info("added partitions in zookeeper name=%s assignment=%s", name, added)
        return self._require_fresh(name)

    def set_topic_configs(self, name: str, configs: Mapping[str, str]) -> TopicState:
        self._get_or_unknown(f"{TOPICS_PATH}/{name}", name)
        self._set_or_create(f"{TOPIC_CONFIGS_PATH}/{name}", {"version": 1, "config": dict(configs)})
        return self._require_fresh(name)

    def set_broker_configs(self, configs: Mapping[str, str]) -> None:
        self._set_or_create(DEFAULT_BROKER_CONFIG_PATH, {"version": 1, "config": dict(configs)})
        self._apply_broker_configs(self._zk.get(DEFAULT_BROKER_CONFIG_PATH)[0])

    def allocate_producer_ids(self, count: int) -> int:
        """Compare-and-set on /latest_producer_id_block's version: two brokers never get overlapping blocks."""
        while True:
            try:
                data, stat = self._zk.get(PRODUCER_ID_BLOCK_PATH)
            except NoNodeError:
                data, stat = None, None
            doc = _loads(data)
            first = int(doc["block_end"]) + 1 if doc else 0
            new_doc = {
                "version": 1,
                "broker": self._node_id,
                "block_start": str(first),
                "block_end": str(first + count - 1),
            }
            try:
                if stat is None:
                    self._zk.create(PRODUCER_ID_BLOCK_PATH, _dumps(new_doc))
                else:
                    self._zk.set(PRODUCER_ID_BLOCK_PATH, _dumps(new_doc), version=stat.version)
            except (BadVersionError, NodeExistsError):
                continue  # another broker took a block first: read again
            logger.info("allocated producer id block first=%d count=%d", first, count)
            return first

    def update_isr(self, topic: str, partition: int, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        """The leader's ISR change: compare-and-set on the state znode's version (its partition epoch)."""
        path = f"{TOPICS_PATH}/{topic}/partitions/{partition}/state"
        for _ in range(5):
            data, stat = self._safe_get(path)
            doc = _loads(data)
            if doc is None or int(doc["leader"]) != self._node_id or int(doc["leader_epoch"]) != leader_epoch:
                return False
            doc["isr"] = list(isr)
            try:
                self._zk.set(path, _dumps(doc), version=stat.version)
            except BadVersionError:
                continue  # the controller wrote meanwhile: look again
            logger.info(
                "isr written topic=%s partition=%d epoch=%d isr=%s", topic, partition, leader_epoch, isr
            )
            self._refresh_topic(topic)
            return True
        return False

    def _maybe_elect_leaders(self) -> None:
        """As controller: re-elect leaders of partitions whose leader is gone; drop dead brokers from ISRs."""
        if self._closed or self._image.controller_id != self._node_id:
            return
        live = {int(c) for c in self._zk.get_children(BROKER_IDS_PATH)}
        for name in self._zk.get_children(TOPICS_PATH):
            try:
                doc = _loads(self._zk.get(f"{TOPICS_PATH}/{name}")[0]) or {}
            except NoNodeError:
                continue
            changed = False
            for p_text, replicas in doc.get("partitions", {}).items():
                changed |= self._maybe_elect_leader(name, int(p_text), tuple(replicas), live)
            if changed:
                self._refresh_topic(name)

    def _maybe_elect_leader(
        self, name: str, partition: int, replicas: tuple[int, ...], live: set[int]
    ) -> bool:
        path = f"{TOPICS_PATH}/{name}/partitions/{partition}/state"
        for _ in range(5):
            data, stat = self._safe_get(path)
            state = _loads(data)
            if state is None:
                return False
            decision = elect_leader(
                replicas, int(state["leader"]), int(state["leader_epoch"]), tuple(state["isr"]), live
            )
            if decision is None:
                return False
            leader, leader_epoch, isr = decision
            new_state = {
                **state,
                "leader": leader,
                "leader_epoch": leader_epoch,
                "isr": list(isr),
                "controller_epoch": self._controller_epoch,
            }
            try:
                self._zk.set(path, _dumps(new_state), version=stat.version)
            except (BadVersionError, NoNodeError):
                continue
            logger.info(
                "partition state changed by controller topic=%s partition=%d leader=%d epoch=%d isr=%s",
                name,
                partition,
                leader,
                leader_epoch,
                list(isr),
            )
            return True
        return False

    def close(self) -> None:
        """End the session: ZooKeeper drops /brokers/ids/<id> (and /controller, if ours) at once."""
        if self._closed:
            return
        self._closed = True
        self._zk.stop()
        self._zk.close()

    # --- write helpers -------------------------------------------------------------------------

    def _broker_ids(self) -> list[int]:
        brokers = sorted(self._image.brokers)
        return brokers or [self._node_id]  # not registered yet (a tool, a test): place everything here

    def _topic_doc(self, topic_id: uuid.UUID, assignment: Mapping[int, tuple[int, ...]]) -> dict[str, Any]:
        return {
            "version": 2,
            "partitions": {str(p): list(r) for p, r in sorted(assignment.items())},
            "topic_id": encode_topic_id(topic_id),
            "adding_replicas": {},
            "removing_replicas": {},
        }

    def _add_partition_states(self, txn: Any, name: str, assignment: Mapping[int, tuple[int, ...]]) -> None:
        for p, replicas in sorted(assignment.items()):
            state = {
                "controller_epoch": self._controller_epoch,
                "leader": replicas[0],  # the preferred leader
                "version": 1,
                "leader_epoch": 0,
                "isr": list(replicas),
            }
            txn.create(f"{TOPICS_PATH}/{name}/partitions/{p}", b"")
            txn.create(f"{TOPICS_PATH}/{name}/partitions/{p}/state", _dumps(state))

    def _commit(self, txn: Any, on_exists: Callable[[], Exception] | None = None) -> None:
        """Commit a transaction; kazoo returns the failing operation's exception among the results."""
        for result in txn.commit():
            if isinstance(result, NodeExistsError) and on_exists is not None:
                raise on_exists() from result
            # the other operations of a failed transaction report that they were rolled back
            if isinstance(result, Exception) and not isinstance(
                result, RolledBackError | RuntimeInconsistency
            ):
                raise result

    def _set_or_create(self, path: str, doc: Mapping[str, Any]) -> None:
        try:
            self._zk.set(path, _dumps(doc))
        except NoNodeError:
            self._zk.create(path, _dumps(doc), makepath=True)

    def _get_or_unknown(self, path: str, name: str) -> tuple[bytes, Any]:
        try:
            return cast("tuple[bytes, Any]", self._zk.get(path))
        except NoNodeError as exc:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.") from exc

    def _require(self, name: str) -> TopicState:
        state = self._image.topics.get(name)
        if state is None:
            state = self._refresh_topic(name)
        if state is None:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.")
        return state

    def _require_fresh(self, name: str) -> TopicState:
        """Re-read a topic we just wrote, so the caller's next `topics()` already shows the change."""
        state = self._refresh_topic(name)
        if state is None:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.")
        return state

    def _get_or_create_cluster_id(self) -> str:
        for _ in range(3):
            try:
                doc = _loads(self._zk.get(CLUSTER_ID_PATH)[0])
                if doc and doc.get("id"):
                    return str(doc["id"])
            except NoNodeError:
                pass
            cluster_id = new_cluster_id()
            try:
                self._zk.create(CLUSTER_ID_PATH, _dumps({"version": "1", "id": cluster_id}))
                logger.info("created cluster id in zookeeper cluster_id=%s", cluster_id)
                return cluster_id
            except NodeExistsError:
                continue  # another broker won the race: read theirs
        raise RuntimeError("could not read or create /cluster/id")

    def _create_broker_znode(self, broker: BrokerInfo) -> None:
        doc: dict[str, Any] = {
            "features": {},
            "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
            "endpoints": [f"PLAINTEXT://{broker.host}:{broker.port}"],
            "jmx_port": -1,
            "host": broker.host,
            "port": broker.port,
            "timestamp": str(self._clock.now_ms()),
            "version": 5,
        }
        if broker.rack is not None:
            doc["rack"] = broker.rack
        path = f"{BROKER_IDS_PATH}/{broker.node_id}"
        try:
            self._zk.create(path, _dumps(doc), ephemeral=True)
        except NodeExistsError:
            # our own znode from an expired session that ZooKeeper has not dropped yet, or a duplicate id
            _, stat = self._zk.get(path)
            if stat.ephemeralOwner != self._zk.client_id[0]:
                raise RuntimeError(
                    f"broker id {broker.node_id} is already registered in ZooKeeper by another session"
                ) from None
        logger.info("registered broker in zookeeper path=%s endpoint=%s:%d", path, broker.host, broker.port)

    def _maybe_elect(self) -> None:
        """Controller election, Kafka style: whoever creates the ephemeral /controller first wins."""
        if self._registration is None or self._closed:
            return
        doc = {"version": 1, "brokerid": self._node_id, "timestamp": str(self._clock.now_ms())}
        try:
            self._zk.create(CONTROLLER_PATH, _dumps(doc), ephemeral=True)
        except NodeExistsError:
            self._on_controller(*self._safe_get(CONTROLLER_PATH))
            return
        self._controller_epoch = self._bump_controller_epoch()
        logger.info(
            "elected controller node_id=%d controller_epoch=%d", self._node_id, self._controller_epoch
        )
        self._on_controller(*self._safe_get(CONTROLLER_PATH))
        self._run_elections()  # brokers may have died while there was no controller

    def _bump_controller_epoch(self) -> int:
        while True:
            try:
                data, stat = self._zk.get(CONTROLLER_EPOCH_PATH)
            except NoNodeError:
                try:
                    self._zk.create(CONTROLLER_EPOCH_PATH, b"1")
                    return 1
                except NodeExistsError:
                    continue
            epoch = int(data or b"0") + 1
            try:
                self._zk.set(CONTROLLER_EPOCH_PATH, str(epoch).encode(), version=stat.version)
                return epoch
            except BadVersionError:
                continue

    def _safe_get(self, path: str) -> tuple[bytes | None, Any]:
        try:
            return cast("tuple[bytes, Any]", self._zk.get(path))
        except NoNodeError:
            return None, None

    # --- cache: reads from ZooKeeper into the image ------------------------------------------

    def _on_topic_names(self, names: list[str]) -> None:
        """ChildrenWatch on /brokers/topics: read new topics, drop deleted ones (existing ones have watches)."""
        known = set(self._image.topics)
        for name in sorted(set(names) ^ known):
            self._refresh_topic(name)

    def _refresh_topic(self, name: str) -> TopicState | None:
        """Read one topic from ZooKeeper and swap it into the image; returns what it read (None: gone).

        Runs on kazoo's thread (watches) or the caller's (after a write). Freshness is the highest zxid seen,
        starting with /brokers/topics' pzxid read first, so a "gone" read of a topic that has since come back
        loses to the newer read.
        """
        topic_path = f"{TOPICS_PATH}/{name}"
        config_path = f"{TOPIC_CONFIGS_PATH}/{name}"
        self._watch(topic_path)
        self._watch(config_path)
        parent = self._zk.exists(TOPICS_PATH)
        freshness = parent.pzxid if parent is not None else 0
        try:
            data, stat = self._zk.get(topic_path)
        except NoNodeError:
            self._apply_topic(name, None, freshness)
            return None
        doc = _loads(data) or {}
        freshness = max(freshness, stat.mzxid)
        partitions: dict[int, PartitionState] = {}
        for p_text, replicas in doc.get("partitions", {}).items():
            p = int(p_text)
            state_path = f"{topic_path}/partitions/{p}/state"
            self._watch(state_path)
            state_data, state_stat = self._safe_get(state_path)
            state = _loads(state_data)
            if state_stat is not None:
                freshness = max(freshness, state_stat.mzxid)
            if state is None:  # no leader yet (a Kafka controller writes the state after the assignment)
                partitions[p] = PartitionState(p, tuple(replicas), -1, -1, ())
            else:
                partitions[p] = PartitionState(
                    p, tuple(replicas), int(state["leader"]), int(state["leader_epoch"]), tuple(state["isr"])
                )
        config_data, config_stat = self._safe_get(config_path)
        if config_stat is not None:
            freshness = max(freshness, config_stat.mzxid)
        configs = (_loads(config_data) or {}).get("config", {})
        topic_id = decode_topic_id(doc["topic_id"]) if doc.get("topic_id") else uuid.UUID(int=0)
        topic = TopicState(
            name,
            topic_id,
            MappingProxyType(dict(sorted(partitions.items()))),
            MappingProxyType({str(k): str(v) for k, v in configs.items()}),
            name in INTERNAL_TOPICS,
        )
        self._apply_topic(name, topic, freshness)
        return topic

    def _watch(self, path: str) -> None:
        """A DataWatch for life on `path` (it also fires when the znode appears or goes), once per path."""
        with self._lock:
            if path in self._watched or self._closed:
                return
            self._watched.add(path)
        name = path.split("/")[3]
        first = True

        def changed(_data: bytes | None, _stat: Any, _event: Any = None) -> None:
            nonlocal first
            if first:  # the recipe's immediate first call: the caller reads right after registering
                first = False
                return
            if path.startswith(TOPICS_PATH) or name in self._image.topics:
                self._refresh_topic(name)

        DataWatch(self._zk, path, changed)

    def _apply_topic(self, name: str, topic: TopicState | None, freshness: int) -> None:
        with self._lock:
            if freshness < self._topic_freshness.get(name, -1):
                return  # a slower read of older data: keep what we have
            self._topic_freshness[name] = freshness
            old = self._image.topics.get(name)
            if old == topic:
                return
            topics = dict(self._image.topics)
            if topic is None:
                topics.pop(name, None)
            else:
                topics[name] = topic
            self._image = replace(self._image, topics=MappingProxyType(topics))
        logger.info("metadata changed topic=%s %s", name, "deleted" if topic is None else "updated")
        self._notify()

    def _on_broker_ids(self, _ids: list[str]) -> None:
        self._refresh_brokers()
        if self._registration is not None:
            self._run_elections()

    def _run_elections(self) -> None:
        try:
            self._maybe_elect_leaders()
        except Exception:
            logger.exception("leader election pass failed")

    def _refresh_brokers(self) -> None:
        parent = self._zk.exists(BROKER_IDS_PATH)
        freshness = parent.pzxid if parent is not None else 0
        brokers: dict[int, BrokerInfo] = {}
        for child in self._zk.get_children(BROKER_IDS_PATH):
            doc = _loads(self._safe_get(f"{BROKER_IDS_PATH}/{child}")[0])
            if doc is not None:
                brokers[int(child)] = BrokerInfo(
                    int(child), str(doc["host"]), int(doc["port"]), doc.get("rack")
                )
        with self._lock:
            if freshness < self._brokers_freshness:
                return
            self._brokers_freshness = freshness
            if brokers == dict(self._image.brokers):
                return
            self._image = replace(self._image, brokers=MappingProxyType(brokers))
        logger.info("live brokers changed brokers=%s", sorted(brokers))
        self._notify()

    def _on_controller(self, data: bytes | None, _stat: Any, _event: Any = None) -> None:
        doc = _loads(data)
        controller_id = int(doc["brokerid"]) if doc else -1
        with self._lock:
            changed = controller_id != self._image.controller_id
            self._image = replace(self._image, controller_id=controller_id)
        if changed:
            logger.info("controller changed controller_id=%d", controller_id)
        if doc is None and self._registration is not None and not self._closed:
            self._maybe_elect()  # the controller went away: stand again

    def _on_broker_configs(self, data: bytes | None, _stat: Any, _event: Any = None) -> None:
        self._apply_broker_configs(data)

    def _apply_broker_configs(self, data: bytes | None) -> None:
        configs = (_loads(data) or {}).get("config", {})
        with self._lock:
            self._image = replace(
                self._image, broker_configs=MappingProxyType({str(k): str(v) for k, v in configs.items()})
            )

    def _notify(self) -> None:
        for loop, callback in list(self._listeners):
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback)

    # --- session ------------------------------------------------------------------------------

    def _on_session_state(self, state: str) -> None:
        """kazoo's connection thread: log, and after an expired session re-register (off this thread)."""
        if state == KazooState.SUSPENDED:
            logger.warning("zookeeper connection lost; reads serve the last known metadata")
        elif state == KazooState.LOST:
            logger.warning("zookeeper session expired; will re-register on reconnect")
            self._session_lost = True
        elif state == KazooState.CONNECTED:
            logger.info("zookeeper connected")
            if self._session_lost and not self._closed:
                self._session_lost = False
                self._zk.handler.spawn(self._reregister)

    def _reregister(self) -> None:
        """Runs on a kazoo worker. Retried: just after a new session, reads can still fail transiently."""
        for attempt in range(1, _REREGISTER_ATTEMPTS + 1):
            if self._closed:
                return
            try:
                if self._registration is not None:
                    self._create_broker_znode(self._registration)
                    self._refresh_brokers()
                    self._maybe_elect()
                for name in list(self._image.topics):
                    self._refresh_topic(name)  # catch up on what changed while we were away
                return
            except Exception:
                logger.warning(
                    "re-registration after session expiry failed attempt=%d", attempt, exc_info=True
                )
                time.sleep(0.2 * attempt)
        logger.error("giving up re-registering after session expiry; restart this broker")


def _ensure_chroot(connect: str, timeout_s: float) -> None:
    """Kafka creates the chroot of `host:port/chroot` if it is missing; kazoo does not, so do it here."""
    hosts, slash, chroot = connect.partition("/")
    if not slash or not chroot.strip("/"):
        return
    client = KazooClient(hosts=hosts, timeout=timeout_s)
    client.start(timeout=timeout_s)
    try:
        client.ensure_path("/" + chroot.strip("/"))
    finally:
        client.stop()
        client.close()
