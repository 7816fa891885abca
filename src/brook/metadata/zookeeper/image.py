"""The cluster image: what this broker knows of the cluster, fed by ZooKeeper watches.

Reads never touch ZooKeeper: they return the current `ClusterImage`, an immutable snapshot. kazoo watches (on
kazoo's callback thread) re-read what changed and swap in a new snapshot under a lock; each topic/broker read
carries a freshness (the highest zxid it saw) so a slow, stale read never overwrites a newer one. Listeners are
told on their event loop (`loop.call_soon_threadsafe`), never on kazoo's thread.

Next to each partition state the cache keeps the state znode's version: a leader's ISR change is a
compare-and-set on the version it last saw, so a proposal made from a stale view loses.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.recipe.watchers import DataWatch

from brook.metadata.api import BrokerInfo, PartitionState, TopicState
from brook.metadata.zookeeper.catch_up import CatchUp
from brook.metadata.zookeeper.decisions import leadership_predates_registration
from brook.metadata.zookeeper.layout import (
    BROKER_IDS_PATH,
    INTERNAL_TOPICS,
    TOPICS_PATH,
    broker_path,
    decode_topic_id,
    get_if_exists,
    loads,
    parse_broker,
    parse_partition_state,
    partition_state_path,
    topic_config_path,
    topic_path,
)

__all__ = ["ClusterImage", "ImageCache"]

logger = logging.getLogger(__name__)

Listener = Callable[[], None]
_StateRead = tuple[int, bytes | None, Any]  # a state znode's read: (its mzxid, or -1 if absent; data; stat)

# a listener runs again no sooner than this, nor than this factor times its last run's time after that run
_LISTENER_MIN_GAP_S = 0.01
_LISTENER_GAP_FACTOR = 4.0


@dataclass(frozen=True, slots=True)
class ClusterImage:
    """One immutable snapshot of what this broker knows about the cluster (swapped whole, never mutated)."""

    topics: Mapping[str, TopicState] = field(default_factory=lambda: MappingProxyType({}))
    brokers: Mapping[int, BrokerInfo] = field(default_factory=lambda: MappingProxyType({}))
    controller_id: int = -1
    broker_configs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    own_broker_configs: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({})
    )  # this broker's


class ImageCache:
    """Owns the image; every method may run on any thread."""

    def __init__(self, zk: KazooClient, on_assignment_change: Callable[[], None]) -> None:
        self._zk = zk
        self._on_assignment_change = on_assignment_change
        self._lock = threading.Lock()  # guards everything below
        self.image = ClusterImage()
        self._topic_freshness: dict[str, int] = {}
        self._brokers_freshness = -1
        # topic -> partition -> the newest read of its state znode: (mzxid, data, stat); -1 and None when it had
        # none. The image's partition states and the versions an ISR change compares against both come from it.
        self._state_reads: dict[str, dict[int, _StateRead]] = {}
        # the topic znode's document as last applied, and the znode's czxid (which incarnation of the name)
        self._topic_docs: dict[str, tuple[Mapping[str, Any], int]] = {}
        self._watched: set[str] = set()
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []
        self._notify_lock = threading.Lock()
        self._notify_pending: set[int] = set()  # listeners (by index) due to run on their loop
        # by listener index: when its last run ended (its loop's time), and how long that run took
        self._listener_runs: dict[int, tuple[float, float]] = {}
        self.catch_up = CatchUp()  # watch refreshes ZooKeeper failed, redone until they succeed
        self.closed = False
        # (this broker's id, czxid of its current registration): see `_own_view`
        self.own_registration: tuple[int, int] | None = None

    def add_listener(self, loop: asyncio.AbstractEventLoop, callback: Listener) -> None:
        self._listeners.append((loop, callback))

    def state_version(self, topic: str, partition: int) -> tuple[int, int] | None:
        """The state znode's (version, controller_epoch) as last read, for a compare-and-set."""
        with self._lock:
            read = self._state_reads.get(topic, {}).get(partition)
        if read is None or read[2] is None:
            return None
        return read[2].version, int((loads(read[1]) or {}).get("controller_epoch", 0))

    # --- topics -------------------------------------------------------------------------------

    def on_topic_names(self, names: list[str]) -> None:
        """ChildrenWatch on /brokers/topics: read new topics, drop deleted ones (existing ones have watches).
        A read ZooKeeper fails is redone (re-reading the names) until it succeeds."""
        self.catch_up.run(
            "topic names",
            lambda: self._apply_topic_names(names),
            redo=lambda: self._apply_topic_names(self._zk.get_children(TOPICS_PATH)),
        )

    def _apply_topic_names(self, names: list[str]) -> None:
        for name in sorted(set(names) ^ set(self.image.topics)):
            self.refresh_topic(name)

    def refresh_topic(self, name: str) -> TopicState | None:
        """Read one topic from ZooKeeper and swap it into the image; returns what it read (None: gone).

        Freshness is the highest zxid seen, starting with /brokers/topics' pzxid read first, so a "gone" read
        of a topic that has since come back loses to the newer read.
        """
        self._watch(topic_path(name), name)
        self._watch(topic_config_path(name), name)
        parent = self._zk.exists(TOPICS_PATH)
        freshness = parent.pzxid if parent is not None else 0
        try:
            data, stat = self._zk.get(topic_path(name))
        except NoNodeError:
            self._apply_topic(name, None, freshness)
            return None
        doc = loads(data) or {}
        freshness = max(freshness, stat.mzxid)
        reads: dict[int, _StateRead] = {}
        for p_text in doc.get("partitions", {}):
            p = int(p_text)
            state_path = partition_state_path(name, p)
            self._watch(state_path, name, p)
            state_data, state_stat = get_if_exists(self._zk, state_path)
            if state_stat is not None:
                freshness = max(freshness, state_stat.mzxid)
            reads[p] = (state_stat.mzxid if state_stat is not None else -1, state_data, state_stat)
        config_data, config_stat = get_if_exists(self._zk, topic_config_path(name))
        if config_stat is not None:
            freshness = max(freshness, config_stat.mzxid)
        configs = (loads(config_data) or {}).get("config", {})
        return self._apply_topic(name, (doc, stat.czxid, reads, configs), freshness)

    def apply_partition_state(self, name: str, partition: int, data: bytes | None, stat: Any) -> None:
        """One partition's state znode as just read (its watch, or the write that set it): swapped into the
        image alone. A failover rewrites hundreds of state znodes of one topic; re-reading the whole topic for
        each of them kept kazoo's one callback thread busy for minutes (every other watch waiting behind it)."""
        if stat is None:
            self.refresh_topic(name)  # the znode went: the topic is going, or the read raced its creation
            return
        with self._lock:
            topic = self.image.topics.get(name)
            doc, topic_czxid = self._topic_docs.get(name, (None, -1))
            held = self._state_reads.get(name, {})
            known = held.get(partition)
            if (
                topic is None
                or doc is None
                or partition not in topic.partitions
                or known is None
                or stat.czxid < topic_czxid  # written before the topic znode we hold was created
                or (known[2] is not None and known[2].czxid != stat.czxid)  # the state znode was re-created
            ):
                stale = None  # not the partition of the topic as we hold it: read the topic whole
            else:
                stale = stat.mzxid <= known[0]
                if not stale:
                    held[partition] = (stat.mzxid, data, stat)
                    state = self._partition(name, doc, partition, data, stat)
                    if topic.partitions[partition] == state:
                        return
                    topics = dict(self.image.topics)
                    topics[name] = replace(
                        topic, partitions=MappingProxyType({**topic.partitions, partition: state})
                    )
                    self.image = replace(self.image, topics=MappingProxyType(topics))
        if stale is None:
            self.refresh_topic(name)
            return
        if stale:
            return
        logger.info(
            "metadata changed topic=%s partition=%d leader=%d epoch=%d isr=%s",
            name,
            partition,
            state.leader,
            state.leader_epoch,
            list(state.isr),
        )
        self.notify()

    def _partition(
        self, name: str, doc: Mapping[str, Any], partition: int, data: bytes | None, stat: Any
    ) -> PartitionState:
        replicas = tuple(doc.get("partitions", {}).get(str(partition), ()))
        return self._own_view(parse_partition_state(partition, replicas, data, doc), stat)

    def _own_view(self, state: PartitionState, stat: Any) -> PartitionState:
        """A leadership of this broker granted before its current registration belongs to its previous run:
        shown without a leader until the controller elects again in a new epoch (it counts this broker as
        bounced), so this run never serves produce or acks in an epoch it did not start in. Kafka's broker
        likewise acts only on the LeaderAndIsr its controller sends after the restart."""
        own = self.own_registration
        if own is None or stat is None or state.leader != own[0]:
            return state
        if leadership_predates_registration(state.leader, stat.mzxid, own[1]):
            return replace(state, leader=-1)
        return state

    def _watch(self, path: str, name: str, partition: int | None = None) -> None:
        """A DataWatch for life on `path` (it also fires when the znode appears or goes), once per path; a
        partition's state znode (`partition` given) is applied alone, from the data the watch read."""
        with self._lock:
            if path in self._watched or self.closed:
                return
            self._watched.add(path)
        first = True

        def changed(data: bytes | None, stat: Any, _event: Any = None) -> None:
            nonlocal first
            if first:  # the recipe's immediate first call: the caller reads right after registering
                first = False
                return
            if partition is not None and name in self.image.topics:
                self.catch_up.run(
                    f"topic {name}",
                    lambda: self.apply_partition_state(name, partition, data, stat),
                    redo=lambda: self.refresh_topic(name),
                )
            elif path.startswith(TOPICS_PATH) or name in self.image.topics:
                self.catch_up.run(f"topic {name}", lambda: self.refresh_topic(name))
            if path == topic_path(name) or self._reassigning(name):
                # partitions added: the controller elects their leaders; an ISR change of a partition being
                # reassigned: the controller completes the reassignment once its target replicas are in
                self._on_assignment_change()

        DataWatch(self._zk, path, changed)

    def _reassigning(self, name: str) -> bool:
        topic = self.image.topics.get(name)
        return topic is not None and any(
            p.adding_replicas or p.removing_replicas for p in topic.partitions.values()
        )

    def _apply_topic(
        self,
        name: str,
        read: tuple[Mapping[str, Any], int, dict[int, _StateRead], Mapping[str, Any]] | None,
        freshness: int,
    ) -> TopicState | None:
        """Swap in a whole read of the topic (None: gone), unless a newer one is applied already. Each partition
        keeps whichever read of its state znode is newer: this one's, or one applied alone since it began."""
        with self._lock:
            if freshness < self._topic_freshness.get(name, -1):
                return self.image.topics.get(name)  # a slower read of older data: keep what we have
            self._topic_freshness[name] = freshness
            held = self._state_reads.pop(name, {})
            topic: TopicState | None = None
            if read is None:
                self._topic_docs.pop(name, None)
            else:
                doc, czxid, reads, configs = read
                if self._topic_docs.get(name, (None, -1))[1] != czxid:
                    held = {}  # the topic was deleted and created again: none of the earlier reads stands
                self._topic_docs[name] = (doc, czxid)
                kept = {
                    p: known if (known := held.get(p)) is not None and known[0] > fresh[0] else fresh
                    for p, fresh in sorted(reads.items())
                }
                self._state_reads[name] = kept
                partitions = {
                    p: self._partition(name, doc, p, data, stat) for p, (_, data, stat) in kept.items()
                }
                topic_id = decode_topic_id(doc["topic_id"]) if doc.get("topic_id") else uuid.UUID(int=0)
                topic = TopicState(
                    name,
                    topic_id,
                    MappingProxyType(partitions),
                    MappingProxyType({str(k): str(v) for k, v in configs.items()}),
                    name in INTERNAL_TOPICS,
                )
            old = self.image.topics.get(name)
            if old == topic:
                return topic
            topics = dict(self.image.topics)
            if topic is None:
                topics.pop(name, None)
            else:
                topics[name] = topic
            self.image = replace(self.image, topics=MappingProxyType(topics))
        logger.info("metadata changed topic=%s %s", name, "deleted" if topic is None else "updated")
        self.notify()
        return topic

    # --- brokers, controller, broker configs --------------------------------------------------

    def refresh_brokers(self) -> None:
        parent = self._zk.exists(BROKER_IDS_PATH)
        freshness = parent.pzxid if parent is not None else 0
        brokers: dict[int, BrokerInfo] = {}
        for child in self._zk.get_children(BROKER_IDS_PATH):
            info = parse_broker(int(child), get_if_exists(self._zk, broker_path(int(child)))[0])
            if info is not None:
                brokers[info.node_id] = info
        with self._lock:
            if freshness < self._brokers_freshness:
                return
            self._brokers_freshness = freshness
            if brokers == dict(self.image.brokers):
                return
            self.image = replace(self.image, brokers=MappingProxyType(brokers))
        logger.info("live brokers changed brokers=%s", sorted(brokers))
        self.notify()

    def apply_controller(self, data: bytes | None) -> int:
        doc = loads(data)
        controller_id = int(doc["brokerid"]) if doc else -1
        with self._lock:
            changed = controller_id != self.image.controller_id
            self.image = replace(self.image, controller_id=controller_id)
        if changed:
            logger.info("controller changed controller_id=%d", controller_id)
            self.notify()
        return controller_id

    def apply_broker_configs(self, data: bytes | None, *, own: bool = False) -> None:
        """The cluster default's dynamic broker configs, or (`own`) this broker's; listeners hear of a change."""
        doc = (loads(data) or {}).get("config", {})
        configs = MappingProxyType({str(k): str(v) for k, v in doc.items()})
        with self._lock:
            current = self.image.own_broker_configs if own else self.image.broker_configs
            if dict(current) == dict(configs):
                return
            if own:
                self.image = replace(self.image, own_broker_configs=configs)
            else:
                self.image = replace(self.image, broker_configs=configs)
        logger.info("dynamic broker configs changed %s=%s", "broker" if own else "default", dict(configs))
        self.notify()

    def notify(self) -> None:
        """Each listener runs on its loop once for any number of changes made before it ran, and during a burst
        of changes it takes at most a fifth of its loop's time: a failover changes hundreds of partitions one
        by one, and a listener looks at the whole image each time (run once per change, that was 40 % of a
        broker's CPU while its controller's elections slowed to half speed)."""
        for index, (loop, _callback) in enumerate(list(self._listeners)):
            with self._notify_lock:
                if index in self._notify_pending or loop.is_closed():
                    continue
                self._notify_pending.add(index)
            loop.call_soon_threadsafe(self._schedule_listener, loop, index)

    def _schedule_listener(self, loop: asyncio.AbstractEventLoop, index: int) -> None:
        ended, took = self._listener_runs.get(index, (float("-inf"), 0.0))
        wait = ended + max(_LISTENER_MIN_GAP_S, _LISTENER_GAP_FACTOR * took) - loop.time()
        if wait > 0:
            loop.call_later(wait, self._run_listener, loop, index)
        else:
            self._run_listener(loop, index)

    def _run_listener(self, loop: asyncio.AbstractEventLoop, index: int) -> None:
        with self._notify_lock:
            self._notify_pending.discard(index)  # first: a change made while it runs calls it again
        started = loop.time()
        try:
            self._listeners[index][1]()
        finally:
            ended = loop.time()
            self._listener_runs[index] = (ended, ended - started)
