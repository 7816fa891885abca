"""ZooKeeperMetadataStore: cluster metadata in Apache ZooKeeper (via kazoo), in Kafka's own znode layout.

Threads. Reads (`topics()`, `topic()`, `live_brokers()`, `controller_id`, `broker_configs()`) never touch
ZooKeeper: they return the cache's current `ClusterImage` (image.py). Writes (create/delete topic, partitions,
configs, producer id blocks, ISR changes, registration, controlled shutdown) are blocking kazoo calls that are
safe from any thread: the broker calls them on its metadata thread pool (never on its event loop), admin
writes with a timeout. Each re-reads what it wrote so the caller's next read already sees it. Multi-znode
writes are ZooKeeper transactions, so watchers never see half a topic. Controller work runs on the controller's thread
(controller.py), registration waits in registration.py.

Replication. A partition's leader writes ISR changes to its state znode itself (`update_isr`): a compare-and-set
on the version its image holds, refused if the leader or its epoch changed, or if anyone wrote since (the
leader then learns the new state through its watch and decides again).

Sessions. After an expired session (ZooKeeper paused or unreachable past zookeeper.session.timeout.ms) kazoo
opens a new one; the store registers again (waiting out its old registration), stands for controller and
re-reads every topic, retrying until that succeeds. It never gives up.

Controlled shutdown (`controlled_shutdown`): see controlled_shutdown.py.
SCRAM credentials: cached, kept current by /config/changes notifications (scram_cache.py).
Not here yet: /admin/reassign_partitions, /isr_change_notification.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from kazoo.retry import KazooRetry

from brook.common.clock import Clock, SystemClock
from brook.common.errors import (
    InvalidPartitions,
    RequestTimedOut,
    TopicAlreadyExists,
    UnknownTopicOrPartition,
)
from brook.metadata.api import BrokerInfo, ClientQuotaEntity, ElectionResult, TopicState
from brook.metadata.embedded import new_cluster_id
from brook.metadata.zookeeper.client_quotas import read_client_quotas, write_client_quota
from brook.metadata.zookeeper.controlled_shutdown import move_leaderships_off
from brook.metadata.zookeeper.controller import Controller, RebalanceSettings
from brook.metadata.zookeeper.decisions import assign_replicas
from brook.metadata.zookeeper.image import ClusterImage, ImageCache
from brook.metadata.zookeeper.layout import (
    BROKER_CONFIGS_PATH,
    BROKER_IDS_PATH,
    CLUSTER_ID_PATH,
    CONTROLLER_PATH,
    DEFAULT_BROKER_CONFIG_PATH,
    DELETE_TOPICS_PATH,
    PRODUCER_ID_BLOCK_PATH,
    TOPIC_CONFIGS_PATH,
    TOPICS_PATH,
    broker_config_path,
    broker_path,
    dumps,
    get_if_exists,
    loads,
    partition_state_doc,
    partition_state_path,
    topic_config_path,
    topic_doc,
    topic_path,
)
from brook.metadata.zookeeper.registration import register_broker
from brook.metadata.zookeeper.scram import write_scram_credential
from brook.metadata.zookeeper.scram_cache import ScramCredentialCache

__all__ = ["ZooKeeperMetadataStore"]

logger = logging.getLogger(__name__)

Listener = Callable[[], None]

_DELETE_TIMEOUT_S = 30.0
_CONTROLLER_WAIT_S = 5.0
_REREGISTER_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)


class ZooKeeperMetadataStore:
    """Lives as long as the broker; `close()` ends the ZooKeeper session, which removes our ephemeral znodes."""

    def __init__(
        self,
        connect: str,
        node_id: int,
        *,
        session_timeout_ms: int = 18_000,
        connection_timeout_ms: int = 18_000,
        unclean_leader_election_enable: bool = False,
        rebalance: RebalanceSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._node_id = node_id
        self._clock = clock or SystemClock()
        self._unclean_default = unclean_leader_election_enable
        self._registration: BrokerInfo | None = None
        self._stopped = threading.Event()
        self._session_lost = False
        self._reregistering = threading.Lock()
        _ensure_chroot(connect, connection_timeout_ms / 1000)
        # reconnect forever, never waiting more than a second between attempts (a resumed ZooKeeper is used
        # at once); each request is retried by the caller, not by kazoo
        retry = KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=1.0)
        self._zk = KazooClient(hosts=connect, timeout=session_timeout_ms / 1000, connection_retry=retry)
        self._zk.start(timeout=connection_timeout_ms / 1000)
        self._zk.add_listener(self._on_session_state)
        for path in (
            BROKER_IDS_PATH,
            TOPICS_PATH,
            TOPIC_CONFIGS_PATH,
            BROKER_CONFIGS_PATH,
            DELETE_TOPICS_PATH,
        ):
            self._zk.ensure_path(path)
        self._zk.ensure_path("/cluster")
        self._cluster_id = self._get_or_create_cluster_id()
        self._controller = Controller(self._zk, node_id, self._clock, self._unclean_for, rebalance)
        self._cache = ImageCache(self._zk, self._controller.trigger)
        # Each recipe calls back at once on this thread (the initial load), then on kazoo's thread per change.
        ChildrenWatch(self._zk, TOPICS_PATH, self._on_topic_names)
        ChildrenWatch(self._zk, BROKER_IDS_PATH, self._on_broker_ids)
        ChildrenWatch(self._zk, DELETE_TOPICS_PATH, lambda _names: self._controller.trigger())
        DataWatch(self._zk, CONTROLLER_PATH, self._on_controller)
        DataWatch(self._zk, DEFAULT_BROKER_CONFIG_PATH, self._on_broker_configs)
        DataWatch(self._zk, broker_config_path(node_id), self._on_own_broker_configs)
        self._scram = ScramCredentialCache(self._zk)
        logger.info(
            "connected to zookeeper connect=%s cluster_id=%s topics=%d",
            connect,
            self._cluster_id,
            len(self._cache.image.topics),
        )

    # --- reads: the cluster image, no ZooKeeper round trip ------------------------------------------

    @property
    def cluster_id(self) -> str:
        return self._cluster_id

    @property
    def controller_id(self) -> int:
        return self._cache.image.controller_id

    @property
    def controller_epoch(self) -> int:
        """This broker's controller epoch while it is the controller, else 0."""
        return self._controller.epoch if self._controller.is_active else 0

    @property
    def controller(self) -> Controller:
        """This broker's controller (active or not): the broker's metrics read its counters."""
        return self._controller

    @property
    def image(self) -> ClusterImage:
        return self._cache.image

    @property
    def zk_client(self) -> KazooClient:
        """The session, for stores that keep their own znodes in it (the ACLs: security/acl_store.py)."""
        return self._zk

    def live_brokers(self) -> list[BrokerInfo]:
        return sorted(self._cache.image.brokers.values(), key=lambda b: b.node_id)

    def topics(self) -> Mapping[str, TopicState]:
        return self._cache.image.topics

    def topic(self, name: str) -> TopicState | None:
        return self._cache.image.topics.get(name)

    def broker_configs(self, node_id: int | None = None) -> Mapping[str, str]:
        """The cluster default's or this broker's from the image; another broker's is read (blocking)."""
        if node_id is None:
            return self._cache.image.broker_configs
        if node_id == self._node_id:
            return self._cache.image.own_broker_configs
        return {
            str(k): str(v)
            for k, v in (loads(get_if_exists(self._zk, broker_config_path(node_id))[0]) or {})
            .get("config", {})
            .items()
        }

    def elect_leaders(
        self, partitions: Iterable[tuple[str, int]] | None, election_type: int, timeout_s: float
    ) -> Mapping[tuple[str, int], ElectionResult]:
        """Served by the controller (NOT_CONTROLLER on any other broker, as Kafka); the image follows the new
        leaders before this returns, so a Metadata request right after it shows them."""
        results = self._controller.elect_leaders(partitions, election_type, timeout_s)
        for name in {name for (name, _p), (error, _m, _l) in results.items() if error == 0}:
            self._cache.refresh_topic(name)
        return results

    def alter_partition_reassignments(
        self,
        targets: Mapping[tuple[str, int], tuple[int, ...] | None],
        allow_replication_factor_change: bool,
        timeout_s: float,
    ) -> Mapping[tuple[str, int], tuple[int, str | None]]:
        """Served by the controller (NOT_CONTROLLER on any other broker, as Kafka); the image shows the started
        reassignments before this returns."""
        results = self._controller.alter_reassignments(targets, allow_replication_factor_change, timeout_s)
        for name in {name for (name, _p), (error, _m) in results.items() if error == 0}:
            self._cache.refresh_topic(name)
        return results

    def client_quotas(self) -> Mapping[ClientQuotaEntity, Mapping[str, float]]:
        """Read from ZooKeeper each time (client_quotas.py): call it off the event loop."""
        return read_client_quotas(self._zk)

    def set_client_quota(self, entity: ClientQuotaEntity, values: Mapping[str, float]) -> None:
        write_client_quota(self._zk, entity, values)

    def scram_credentials(self) -> Mapping[str, Mapping[str, str]]:
        """From the cache (scram_cache.py); it reads ZooKeeper while it cannot be trusted: call it off the loop."""
        return self._scram.credentials()

    def scram_credential(self, user: str, mechanism: str) -> str | None:
        return self._scram.credential(user, mechanism)

    def set_scram_credential(self, user: str, mechanism: str, credential: str | None) -> None:
        write_scram_credential(self._zk, user, mechanism, credential)
        self._scram.refresh_user(user)  # our next read sees it at once; other brokers via the notification

    def add_listener(self, callback: Listener, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Call `callback()` on `loop` (default: the running loop) after topics or brokers change."""
        self._cache.add_listener(loop or asyncio.get_running_loop(), callback)

    # --- writes: blocking kazoo calls, safe from any thread --------------------------------------

    def register_broker(self, broker: BrokerInfo) -> None:
        """Create our ephemeral /brokers/ids/<id> (waiting out a stale one), then stand for controller."""
        if not register_broker(self._zk, broker, self._clock, self._stopped):
            return
        # Only now: a registration in place is what makes this store stand for controller (and re-register
        # after a session expiry); a start that failed before it must never act as controller.
        self._registration = broker
        self._note_registration(broker.node_id)
        self._refresh_topics()  # with the registration noted: our previous run's leaderships show no leader
        self._cache.refresh_brokers()
        self._controller.stand()
        _wait_for(lambda: self.controller_id >= 0 or self._stopped.is_set(), _CONTROLLER_WAIT_S)

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
        """`assignment` given (CreateTopics' explicit one): written as it is, like Kafka's ZooKeeper mode,
        even naming brokers that are down (their partitions wait for them); else placed over live brokers."""
        if name in self._cache.image.topics or self._zk.exists(topic_path(name)):
            raise TopicAlreadyExists(f"Topic '{name}' already exists.")
        if self._zk.exists(f"{DELETE_TOPICS_PATH}/{name}"):
            raise TopicAlreadyExists(f"Topic '{name}' is marked for deletion.")
        if assignment is None:
            assignment = self._place(num_partitions, replication_factor)
        topic_id = uuid.uuid4()
        txn = self._zk.transaction()
        txn.create(topic_path(name), dumps(topic_doc(topic_id, assignment)))
        txn.create(f"{topic_path(name)}/partitions", b"")
        self._add_partition_states(txn, name, assignment)
        config_doc = dumps({"version": 1, "config": dict(configs)})
        if self._zk.exists(
            topic_config_path(name)
        ):  # Kafka leaves an old topic's config behind; overwrite it
            txn.set_data(topic_config_path(name), config_doc)
        else:
            txn.create(topic_config_path(name), config_doc)
        self._commit(txn, lambda: TopicAlreadyExists(f"Topic '{name}' already exists."))
        logger.info("created topic in zookeeper name=%s assignment=%s", name, assignment)
        return self._require_fresh(name)

    def delete_topic(self, name: str) -> TopicState:
        """Kafka's ZooKeeper flow: mark /admin/delete_topics/<name>, the controller completes the deletion.

        Returns once the topic's znodes are gone (RequestTimedOut after a while without a controller; the
        deletion still completes when one is elected)."""
        state = self._require(name)
        try:
            self._zk.create(f"{DELETE_TOPICS_PATH}/{name}", b"", makepath=True)
        except NodeExistsError:
            pass  # already requested: wait for it like the first requester
        logger.info("topic marked for deletion topic=%s", name)
        if not _wait_for(lambda: self._zk.exists(topic_path(name)) is None, _DELETE_TIMEOUT_S):
            raise RequestTimedOut(
                f"Topic '{name}' is marked for deletion; the controller has not completed it."
            )
        self._cache.refresh_topic(name)
        return state

    def add_partitions(
        self, name: str, total_count: int, *, assignment: Mapping[int, tuple[int, ...]] | None = None
    ) -> TopicState:
        new_assignment = assignment
        data, stat = self._get_or_unknown(topic_path(name), name)
        doc = loads(data) or {}
        assignment = {int(p): tuple(r) for p, r in doc.get("partitions", {}).items()}
        current = len(assignment)
        if total_count <= current:
            raise InvalidPartitions(
                f"Topic currently has {current} partitions, which is higher than or equal to "
                f"the requested {total_count}."
            )
        if new_assignment is not None:
            if sorted(new_assignment) != list(range(current, total_count)):  # the topic grew meanwhile
                raise InvalidPartitions(f"Topic now has {current} partitions; the assignment is for others.")
            added = dict(new_assignment)
        else:
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
        txn.set_data(topic_path(name), dumps(doc), version=stat.version)
        self._add_partition_states(txn, name, added)
        self._commit(txn)
        logger.info("added partitions in zookeeper name=%s assignment=%s", name, added)
        return self._require_fresh(name)

    def set_topic_configs(self, name: str, configs: Mapping[str, str]) -> TopicState:
        self._get_or_unknown(topic_path(name), name)
        self._set_or_create(topic_config_path(name), {"version": 1, "config": dict(configs)})
        return self._require_fresh(name)

    def set_broker_configs(self, configs: Mapping[str, str], node_id: int | None = None) -> None:
        path = broker_config_path(node_id)
        self._set_or_create(path, {"version": 1, "config": dict(configs)})
        if node_id is None or node_id == self._node_id:
            self._cache.apply_broker_configs(self._zk.get(path)[0], own=node_id is not None)

    def allocate_producer_ids(self, count: int) -> int:
        """Compare-and-set on /latest_producer_id_block's version: two brokers never get overlapping blocks."""
        while True:
            data, stat = get_if_exists(self._zk, PRODUCER_ID_BLOCK_PATH)
            doc = loads(data)
            first = int(doc["block_end"]) + 1 if doc else 0
            new_doc = {
                "version": 1,
                "broker": self._node_id,
                "block_start": str(first),
                "block_end": str(first + count - 1),
            }
            try:
                if stat is None:
                    self._zk.create(PRODUCER_ID_BLOCK_PATH, dumps(new_doc))
                else:
                    self._zk.set(PRODUCER_ID_BLOCK_PATH, dumps(new_doc), version=stat.version)
            except (BadVersionError, NodeExistsError):
                continue  # another broker took a block first: read again
            logger.info("allocated producer id block first=%d count=%d", first, count)
            return first

    def update_isr(self, topic: str, partition: int, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        """The leader's ISR change: compare-and-set on the state znode version this broker's image holds.

        False if the image says another leader or epoch, or if the znode changed since the image read it (the
        watch brings the new state; the leader decides again from there)."""
        state = self._cache.image.topics.get(topic)
        current = state.partitions.get(partition) if state is not None else None
        cached = self._cache.state_version(topic, partition)
        if (
            current is None
            or cached is None
            or current.leader != self._node_id
            or current.leader_epoch != leader_epoch
        ):
            return False
        version, controller_epoch = cached
        path = partition_state_path(topic, partition)
        data = partition_state_doc(self._node_id, leader_epoch, isr, controller_epoch)
        try:
            stat = self._zk.set(path, data, version=version)
        except (BadVersionError, NoNodeError):
            logger.info(
                "isr change lost the compare-and-set topic=%s partition=%d isr=%s", topic, partition, isr
            )
            # this partition's state only (a failover shrinks hundreds of ISRs of one topic at once)
            self._cache.apply_partition_state(topic, partition, *get_if_exists(self._zk, path))
            return False
        logger.info("isr written topic=%s partition=%d epoch=%d isr=%s", topic, partition, leader_epoch, isr)
        self._cache.apply_partition_state(topic, partition, data, stat)
        return True

    def controlled_shutdown(self, timeout_s: float) -> int:
        """Hand this broker's leaderships to other ISR members and leave every ISR (controlled_shutdown.py).

        Returns how many partitions it still leads although another live replica exists."""
        return move_leaderships_off(self._zk, self._cache, self._node_id, timeout_s)

    def close(self) -> None:
        """End the session: ZooKeeper drops /brokers/ids/<id> (and /controller, if ours) at once."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._cache.closed = True
        self._cache.catch_up.close()
        self._scram.close()
        self._controller.close()
        self._zk.stop()
        self._zk.close()

    # --- write helpers -------------------------------------------------------------------------

    def _unclean_for(self, name: str) -> bool:
        """unclean.leader.election.enable: the topic's config, else the dynamic broker default, else static."""
        topic = self._cache.image.topics.get(name)
        key = "unclean.leader.election.enable"
        value = topic.configs.get(key) if topic is not None else None
        if value is None:
            value = self._cache.image.broker_configs.get(key)
        return self._unclean_default if value is None else value.strip().lower() == "true"

    def _place(self, num_partitions: int, replication_factor: int) -> dict[int, tuple[int, ...]]:
        if replication_factor > len(self._cache.image.brokers):
            self._cache.refresh_brokers()  # a broker that registered a moment ago may not be in the image yet
        brokers = self._broker_ids()
        return assign_replicas(
            brokers,
            num_partitions,
            replication_factor,
            start_index=random.randrange(len(brokers)),
            replica_shift=random.randrange(len(brokers)),
        )

    def _broker_ids(self) -> list[int]:
        brokers = sorted(self._cache.image.brokers)
        return brokers or [self._node_id]  # not registered yet (a tool, a test): place everything here

    def _add_partition_states(self, txn: Any, name: str, assignment: Mapping[int, tuple[int, ...]]) -> None:
        """The preferred leader leads at first; if it is dead, the controller's next pass elects another."""
        for p, replicas in sorted(assignment.items()):
            txn.create(f"{topic_path(name)}/partitions/{p}", b"")
            txn.create(
                partition_state_path(name, p),
                partition_state_doc(replicas[0], 0, replicas, self.controller_epoch),
            )

    def _commit(self, txn: Any, on_exists: Callable[[], Exception] | None = None) -> None:
        """Commit a transaction; kazoo returns the failing operation's exception among the results."""
        for result in txn.commit():
            if isinstance(result, NodeExistsError) and on_exists is not None:
                raise on_exists() from result
            if isinstance(result, Exception) and not isinstance(
                result, RolledBackError | RuntimeInconsistency
            ):
                raise result

    def _set_or_create(self, path: str, doc: Mapping[str, Any]) -> None:
        try:
            self._zk.set(path, dumps(doc))
        except NoNodeError:
            self._zk.create(path, dumps(doc), makepath=True)

    def _get_or_unknown(self, path: str, name: str) -> tuple[bytes, Any]:
        try:
            return self._zk.get(path)  # type: ignore[no-any-return]
        except NoNodeError as exc:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.") from exc

    def _require(self, name: str) -> TopicState:
        state = self._cache.image.topics.get(name)
        if state is None:
            state = self._cache.refresh_topic(name)
        if state is None:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.")
        return state

    def _require_fresh(self, name: str) -> TopicState:
        """Re-read a topic we just wrote, so the caller's next `topics()` already shows the change."""
        state = self._cache.refresh_topic(name)
        if state is None:
            raise UnknownTopicOrPartition(f"Topic '{name}' does not exist.")
        return state

    def _get_or_create_cluster_id(self) -> str:
        for _ in range(3):
            doc = loads(get_if_exists(self._zk, CLUSTER_ID_PATH)[0])
            if doc and doc.get("id"):
                return str(doc["id"])
            cluster_id = new_cluster_id()
            try:
                self._zk.create(CLUSTER_ID_PATH, dumps({"version": "1", "id": cluster_id}))
                logger.info("created cluster id in zookeeper cluster_id=%s", cluster_id)
                return cluster_id
            except NodeExistsError:
                continue  # another broker won the race: read theirs
        raise RuntimeError("could not read or create /cluster/id")

    # --- watches (kazoo's thread) ----------------------------------------------------------------

    def _on_topic_names(self, names: list[str]) -> None:
        self._cache.on_topic_names(names)
        self._controller.trigger()

    def _on_broker_ids(self, _ids: list[str]) -> None:
        self._cache.catch_up.run("broker registrations", self._cache.refresh_brokers)
        self._controller.trigger()

    def _on_controller(self, data: bytes | None, _stat: Any, _event: Any = None) -> None:
        controller_id = self._cache.apply_controller(data)
        if controller_id not in (-1, self._node_id) and self._controller.is_active:
            self._controller.resign(f"/controller now names broker {controller_id}")
        if controller_id == -1 and self._registration is not None and not self._stopped.is_set():
            self._controller.stand()  # the controller went away: stand again (a controller checks it still is)

    def _on_broker_configs(self, data: bytes | None, _stat: Any, _event: Any = None) -> None:
        self._cache.apply_broker_configs(data)

    def _on_own_broker_configs(self, data: bytes | None, _stat: Any, _event: Any = None) -> None:
        self._cache.apply_broker_configs(data, own=True)

    # --- session ------------------------------------------------------------------------------

    def _on_session_state(self, state: str) -> None:
        """kazoo's connection thread: log, and after an expired session re-register (on a thread of its own)."""
        if state == KazooState.SUSPENDED:
            logger.warning("zookeeper connection lost; reads serve the last known metadata")
        elif state == KazooState.LOST:
            logger.warning("zookeeper session expired; will re-register on reconnect")
            self._session_lost = True
            self._controller.resign("zookeeper session expired")
        elif state == KazooState.CONNECTED:
            logger.info("zookeeper connected")
            if self._session_lost and not self._stopped.is_set():
                self._session_lost = False
                threading.Thread(target=self._reregister, name="zk-reregister", daemon=True).start()

    def _note_registration(self, node_id: int) -> None:
        """Remember our registration's czxid (Kafka's broker epoch): the next read of each topic shows the
        leaderships our previous run held without a leader until the controller elects anew (image.py)."""
        stat = self._zk.exists(broker_path(node_id))
        if stat is not None:  # None: gone already (session lost again); the next registration notes itself
            self._cache.own_registration = (node_id, stat.czxid)

    def _refresh_topics(self) -> None:
        for name in list(self._cache.image.topics):
            self._cache.refresh_topic(name)

    def _reregister(self) -> None:
        """Register again, stand for controller, catch up on every topic; retried until it succeeds."""
        with self._reregistering:  # one at a time; a second expiry queues behind the first
            attempt = 0
            while not self._stopped.is_set():
                try:
                    if self._registration is not None:
                        if not register_broker(self._zk, self._registration, self._clock, self._stopped):
                            return
                        self._note_registration(self._registration.node_id)
                        self._cache.refresh_brokers()
                        self._controller.stand()
                    self._refresh_topics()  # catch up on what changed while we were away (and on the note)
                    logger.info("registered again after session expiry attempts=%d", attempt + 1)
                    return
                except Exception as exc:
                    delay = _REREGISTER_BACKOFF_S[min(attempt, len(_REREGISTER_BACKOFF_S) - 1)]
                    attempt += 1
                    logger.warning(
                        "re-registration after session expiry failed (%s); retrying in %.1fs",
                        exc,
                        delay,
                        exc_info=True,
                    )
                    self._stopped.wait(delay)


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


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
