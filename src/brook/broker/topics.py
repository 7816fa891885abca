"""TopicService: topic creation, deletion, partitions and configs, keeping metadata and logs in step.

Owned by the event loop. Every change goes to the MetadataStore first, then the ReplicaManager
opens or drops logs to match it. Metadata writes are blocking calls (ZooKeeper round trips, or the embedded
store's fsync): they run on a worker thread, one at a time per broker, and a write that does not finish within
`write_timeout_s` (ZooKeeper unreachable) answers REQUEST_TIMED_OUT while the event loop serves on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from brook.broker.config import TOPIC_CONFIGS, BrokerConfig, log_config_for, validate_topic_configs
from brook.broker.replica_manager import ReplicaManager
from brook.broker.replication_quota import FOLLOWER_RATE, LEADER_RATE
from brook.broker.topic_identity import TopicIdentity
from brook.common.errors import (
    InvalidPartitions,
    InvalidReplicationFactor,
    InvalidRequest,
    InvalidTopic,
    PolicyViolation,
    RequestTimedOut,
    TopicAlreadyExists,
    TopicDeletionDisabled,
    UnknownTopicOrPartition,
)
from brook.common.types import TopicPartition
from brook.metadata.api import MetadataStore, PartitionState, TopicState
from brook.metadata.assignment import check_new_partitions_assignment, check_replica_assignment
from brook.storage.api import LogConfig
from brook.storage.budget import ResourceBudget
from brook.storage.partition_metadata import write_topic_id

logger = logging.getLogger(__name__)

_TAKE_BACK_S = 10.0  # how long a failed topic creation keeps trying to take its metadata write back

__all__ = ["BROKER_SYNONYMS", "ConfigSource", "TopicService", "validate_topic_name"]

_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")  # used with fullmatch: "$" alone would let "abc\n" through
MAX_TOPIC_NAME_LENGTH = 249
MAX_PARTITIONS = 100_000
WRITE_TIMEOUT_S = 30.0

T = TypeVar("T")
# the dynamic broker config that sets a topic config's default (Kafka's ServerTopicConfigSynonyms)
BROKER_SYNONYMS = {
    name: {"retention.ms": "log.retention.ms", "segment.ms": "log.roll.ms"}.get(name, d.broker_key or "")
    for name, d in TOPIC_CONFIGS.items()
}


class ConfigSource:
    """DescribeConfigs' config_source values."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


def validate_topic_name(name: str | None) -> str:
    if not name:
        raise InvalidTopic("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidTopic(f'Topic name cannot be "{name}"')
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopic(
            f"Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME_LENGTH} characters"
        )
    if not _LEGAL_TOPIC.fullmatch(name):
        raise InvalidTopic(
            f'Topic name "{name}" is illegal, it contains a character other than '
            "ASCII alphanumerics, '.', '_' and '-'"
        )
    return name


class TopicService:
    def __init__(
        self,
        config: BrokerConfig,
        metadata: MetadataStore,
        replicas: ReplicaManager,
        *,
        executor: Executor | None = None,
    ) -> None:
        self.config = config
        self.metadata = metadata
        self.replicas = replicas
        self.budget: ResourceBudget | None = None  # set at start (Broker._take_resource_budget)
        self.write_timeout_s = WRITE_TIMEOUT_S
        self._executor = executor
        self._write_lock = asyncio.Lock()
        self._background: dict[str, asyncio.Task[None]] = {}
        self.identity = TopicIdentity(replicas.log_manager)
        # the inputs the last identity checks ran on (sync): the logs' generation, the topic ids, ...
        self._stale_checked: tuple[int, dict[str, uuid.UUID]] | None = None
        self._ids_recorded: tuple[int, int, dict[str, uuid.UUID]] | None = None
        self._identity_writes: set[asyncio.Task[None]] = set()
        self._writes: set[asyncio.Task[Any]] = set()

    def check_budget(self, new_replicas: int, brokers: int) -> None:
        """Refuse, before anything changes, partitions this broker could not keep open. The controller
        spreads replicas evenly, so this broker's share of `new_replicas` is at most ceil(new / brokers)."""
        if self.budget is None:
            return
        share = -(-new_replicas // max(1, brokers))
        reason = self.budget.refusal(len(self.replicas.partitions), share)
        if reason is not None:
            logger.warning("refused partitions: %s", reason)
            raise PolicyViolation(reason)

    async def _write(
        self, fn: Callable[..., T], *args: Any, _undo_topic: str | None = None, **kwargs: Any
    ) -> T:
        """One metadata write on a worker thread, then a partition sync; REQUEST_TIMED_OUT after write_timeout_s.

        Both run in a task of their own: a caller that gives up (timeout, closed connection) never leaves the
        metadata changed and this broker's partitions not synced to it. `_undo_topic` names a topic this write
        created: if its partitions cannot be opened here, it is taken back out (all or nothing)."""
        task = asyncio.get_running_loop().create_task(
            self._write_then_sync(functools.partial(fn, *args, **kwargs), _undo_topic)
        )
        self._writes.add(task)
        task.add_done_callback(_forget_write)
        task.add_done_callback(self._writes.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.write_timeout_s)
        except TimeoutError:
            name = getattr(fn, "__name__", "metadata write")
            logger.warning("metadata write timed out op=%s timeout_s=%.0f", name, self.write_timeout_s)
            raise RequestTimedOut(f"{name} did not complete within {self.write_timeout_s:.0f}s") from None

    async def _write_then_sync(self, call: Callable[[], T], undo_topic: str | None = None) -> T:
        async with self._write_lock:  # one write at a time per broker
            result = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        try:
            self.sync()
        except Exception:
            if undo_topic is None:
                raise
            logger.exception("cannot open the partitions of new topic %s; taking it back", undo_topic)
            await self._take_back_topic(undo_topic)
            raise
        return result

    async def _take_back_topic(self, name: str) -> None:
        """All or nothing: a topic whose partitions cannot be opened here (e.g. out of descriptors) leaves
        the metadata again, so it never describes partitions that cannot exist. Its partitions opened so far
        are dropped first, which gives their descriptors back for the metadata write; that write is retried
        (with backoff, up to _TAKE_BACK_S) while descriptors stay short."""
        loop = asyncio.get_running_loop()
        self._sync_with({n: t for n, t in self.metadata.topics().items() if n != name}, follow=True)
        deadline, delay_s = loop.time() + _TAKE_BACK_S, 0.05
        while True:
            try:
                async with self._write_lock:
                    await loop.run_in_executor(self._executor, self.metadata.delete_topic, name)
                break
            except UnknownTopicOrPartition:
                break
            except Exception:
                if loop.time() >= deadline:
                    logger.exception("could not take new topic %s back out of the metadata", name)
                    break
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 1.0)
        try:
            self.sync()
        except Exception:
            logger.exception("partition sync after taking topic %s back failed", name)

    def sync(self, *, follow: bool = True) -> None:
        """Host what the metadata assigns here; `follow=False` (controlled shutdown) leaves fetchers stopped.

        First drops replica directories of another topic id (topic_identity.py), then records the topic id
        of every hosted partition that has none yet (partition.metadata, written on a worker thread). Both
        checks walk every log, so each runs only when its inputs changed since it last ran: the topic ids,
        the logs, and for the second the hosted partitions (a metadata change that touched none of them, say
        one topic's ISR or config, costs no walk over thousands of partitions on the event loop)."""
        topics = self.metadata.topics()
        topic_ids = {name: t.topic_id for name, t in topics.items()}
        log_manager = self.replicas.log_manager
        if self._stale_checked != (log_manager.generation, topic_ids):
            stale = self.identity.stale(topic_ids)
            if stale:
                self._drop_replicas(topics, stale, follow)
            # The logs as checked (less the ones just dropped). The sync may open more: the next one checks them
            # (a directory a failed delete left behind holds another topic's id; reopening it must not serve it).
            self._stale_checked = (log_manager.generation, topic_ids)
        self._sync_with(topics, follow)
        recorded = (log_manager.generation, self.replicas.hosting_generation, topic_ids)
        if self._ids_recorded != recorded:
            pending = self.identity.unrecorded(self.replicas.partitions, topic_ids)
            if pending:
                self._record_topic_ids(pending)
            self._ids_recorded = recorded

    def _drop_replicas(
        self, topics: Mapping[str, TopicState], stale: set[TopicPartition], follow: bool
    ) -> None:
        for tp in sorted(stale):
            if tp.topic in topics:  # recreated under the same name while this replica was away
                logger.warning(
                    "deleting replica of a deleted topic (its partition.metadata names another topic id) tp=%s",
                    tp,
                )
            else:  # the routine case: the topic was deleted
                logger.info("deleting replica of a deleted topic tp=%s", tp)
        hosted = {tp for tp in stale if tp in self.replicas.partitions}
        for tp in stale - hosted:
            self.replicas.log_manager.delete(tp)
        if hosted:  # a pass without them removes them (and deletes their logs); the next pass starts afresh
            without = {
                name: replace(
                    t,
                    partitions={
                        p: s for p, s in t.partitions.items() if TopicPartition(name, p) not in hosted
                    },
                )
                for name, t in topics.items()
            }
            self._sync_with(without, follow)

    def _sync_with(self, topics: Mapping[str, TopicState], follow: bool) -> None:
        default_min_isr = self.config.get("min.insync.replicas")
        self.replicas.sync_with(
            topics,
            {name: self.log_config(t) for name, t in topics.items()},
            brokers={b.node_id: b for b in self.metadata.live_brokers()} if follow else None,
            min_insync_replicas={
                name: int(t.configs.get("min.insync.replicas", default_min_isr)) for name, t in topics.items()
            },
        )
        self.replicas.configure_throttles(
            {name: t.configs for name, t in topics.items()},
            self.config.int(LEADER_RATE),
            self.config.int(FOLLOWER_RATE),
        )

    def _record_topic_ids(self, pending: list[tuple[Path, uuid.UUID]]) -> None:
        def write_all() -> None:
            for directory, topic_id in pending:
                try:
                    write_topic_id(directory, topic_id)
                except OSError as exc:  # the partition went meanwhile, or its dir failed (the log reports it)
                    gone = not directory.exists()  # deleted meanwhile (a topic created and deleted at once)
                    logger.log(
                        logging.DEBUG if gone else logging.WARNING,
                        "could not write partition.metadata dir=%s: %s",
                        directory,
                        exc,
                    )

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            write_all()
            return
        task = loop.create_task(asyncio.to_thread(write_all))
        self._identity_writes.add(task)
        task.add_done_callback(self._identity_writes.discard)

    def log_config(self, state: TopicState) -> LogConfig:
        return log_config_for(self.config, state.configs)

    def name_for_id(self, topic_id: uuid.UUID) -> str:
        for state in self.metadata.topics().values():
            if state.topic_id == topic_id:
                return state.name
        raise UnknownTopicOrPartition(f"no topic with id {topic_id}")

    async def get_or_auto_create(self, name: str, *, allow_create: bool) -> TopicState:
        state = self.metadata.topic(name)
        if state is not None:
            return state
        validate_topic_name(name)
        if not (allow_create and self.config.bool("auto.create.topics.enable")):
            raise UnknownTopicOrPartition(f"Topic {name} not found.")
        logger.info("auto-creating topic name=%s", name)
        try:
            return await self.create_topic(name, -1, -1, {})
        except TopicAlreadyExists:  # another request created it while this one waited for the store
            state = self.metadata.topic(name)
            if state is None:
                raise
            return state

    def create_topic_in_background(
        self,
        name: str,
        num_partitions: int,
        replication_factor: int,
        configs: Mapping[str, str | None],
        *,
        internal: bool = False,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Start creating a topic unless that is already under way; `then()` runs on the loop once it exists.

        For callers that cannot wait (FindCoordinator's internal topic): they answer "not available yet" and
        the client asks again."""
        if name in self._background:
            return

        async def create() -> None:
            try:
                await self.create_topic(name, num_partitions, replication_factor, configs, internal=internal)
            except TopicAlreadyExists:
                pass
            except Exception:
                logger.exception("creating topic failed name=%s", name)
                return
            finally:
                self._background.pop(name, None)
            if then is not None:
                then()

        self._background[name] = asyncio.get_running_loop().create_task(create())

    async def create_topic(
        self,
        name: str,
        num_partitions: int,
        replication_factor: int,
        configs: Mapping[str, str | None],
        *,
        assignments: Mapping[int, list[int]] | None = None,
        validate_only: bool = False,
        internal: bool = False,
    ) -> TopicState:
        validate_topic_name(name)
        checked_assignment = None
        if assignments:
            if num_partitions != -1 or replication_factor != -1:
                raise InvalidRequest(
                    "Both numPartitions or replicationFactor and replicasAssignments were set. "
                    "Both cannot be used at the same time."
                )
            checked_assignment = check_replica_assignment(assignments)
            num_partitions = len(checked_assignment)
            replication_factor = len(checked_assignment[0])
        if num_partitions == -1:
            num_partitions = self.config.int("num.partitions")
        if replication_factor == -1:
            replication_factor = self.config.int("default.replication.factor")
        if num_partitions <= 0 or num_partitions > MAX_PARTITIONS:
            raise InvalidPartitions(f"Number of partitions must be larger than 0 (got {num_partitions}).")
        self._check_partition_limit(num_partitions)
        brokers = len(self.metadata.live_brokers())
        if replication_factor <= 0:
            raise InvalidReplicationFactor("Replication factor must be larger than 0.")
        # the store checks again against its freshest view (a broker may have registered a moment ago)
        if replication_factor > brokers and validate_only and checked_assignment is None:
            raise InvalidReplicationFactor(
                f"Replication factor: {replication_factor} larger than available brokers: {brokers}."
            )
        checked = validate_topic_configs(configs)
        if self.metadata.topic(name) is not None:
            raise TopicAlreadyExists(f"Topic '{name}' already exists.")
        if assignments:
            node = self.replicas.node_id
            self.check_budget(sum(1 for r in assignments.values() if node in r), 1)
        else:
            self.check_budget(num_partitions * replication_factor, brokers)
        if validate_only:
            return TopicState(
                name, uuid.UUID(int=0), _preview_partitions(num_partitions, self.replicas.node_id), checked
            )
        state = await self._write(
            self.metadata.create_topic,
            name,
            num_partitions,
            replication_factor,
            checked,
            internal=internal,
            assignment=checked_assignment,
            _undo_topic=name,
        )
        logger.info("created topic name=%s partitions=%d configs=%s", name, num_partitions, checked)
        return state

    def _check_partition_limit(self, count: int) -> None:
        """brook.topic.max.partitions: a policy, as Kafka's create.topic.policy.class.name would apply.

        Opening a partition creates its files on the event loop; 100,000 at once would stall every client.
        """
        limit = self.config.int("brook.topic.max.partitions")
        if count > limit:
            raise PolicyViolation(
                f"Topic would have {count} partitions, more than brook.topic.max.partitions={limit}."
            )

    async def delete_topic(self, name: str) -> TopicState:
        if not self.config.bool("delete.topic.enable"):
            raise TopicDeletionDisabled("Topic deletion is disabled (delete.topic.enable=false).")
        state = await self._write(self.metadata.delete_topic, name)
        logger.info("deleted topic name=%s", name)
        return state

    async def create_partitions(
        self,
        name: str,
        count: int,
        *,
        assignments: Sequence[Sequence[int]] | None = None,
        validate_only: bool = False,
    ) -> TopicState:
        state = self.metadata.topic(name)
        if state is None:
            raise UnknownTopicOrPartition(f"The topic '{name}' does not exist.")
        if count <= len(state.partitions):
            raise InvalidPartitions(
                f"Topic currently has {len(state.partitions)} partitions, which is higher than or equal to "
                f"the requested {count}."
            )
        if count > MAX_PARTITIONS:
            raise InvalidPartitions(f"Number of partitions {count} is too large.")
        replication_factor = len(next(iter(state.partitions.values())).replicas) if state.partitions else 1
        self.check_budget(
            (count - len(state.partitions)) * replication_factor, len(self.metadata.live_brokers())
        )
        self._check_partition_limit(count)
        checked = None
        if assignments is not None:
            checked = check_new_partitions_assignment(
                assignments,
                current_count=len(state.partitions),
                total_count=count,
                replication_factor=replication_factor,
                brokers={b.node_id for b in self.metadata.live_brokers()},
            )
        if validate_only:
            return state
        state = await self._write(self.metadata.add_partitions, name, count, assignment=checked)
        logger.info("added partitions name=%s count=%d", name, count)
        return state

    async def set_topic_configs(
        self, name: str, configs: Mapping[str, str | None], *, validate_only: bool = False
    ) -> None:
        if self.metadata.topic(name) is None:
            raise UnknownTopicOrPartition(f"The topic '{name}' does not exist.")
        checked = validate_topic_configs(configs)
        if validate_only:
            return
        await self._write(self.metadata.set_topic_configs, name, checked)
        logger.info("altered topic configs name=%s configs=%s", name, checked)

    def describe_topic_configs(self, state: TopicState) -> dict[str, tuple[str, int]]:
        """Every topic config with its value and source (overrides first, then broker defaults)."""
        described: dict[str, tuple[str, int]] = {}
        for name in TOPIC_CONFIGS:
            if name in state.configs:
                described[name] = (state.configs[name], ConfigSource.DYNAMIC_TOPIC_CONFIG)
            else:
                value = self.config.topic_default(name)
                synonym = BROKER_SYNONYMS.get(name, "")
                if synonym in self.config.dynamic.per_broker:
                    source = ConfigSource.DYNAMIC_BROKER_CONFIG
                elif synonym in self.config.dynamic.cluster_default:
                    source = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
                elif value == TOPIC_CONFIGS[name].default:
                    source = ConfigSource.DEFAULT_CONFIG
                else:
                    source = ConfigSource.STATIC_BROKER_CONFIG
                described[name] = (value, source)
        return described

    def require_topic(self, name: str) -> TopicState:
        state = self.metadata.topic(name)
        if state is None:
            raise UnknownTopicOrPartition(f"The topic '{name}' does not exist.")
        return state

    def reject_internal(self, name: str) -> None:
        state = self.metadata.topic(name)
        if state is not None and state.internal:
            raise InvalidRequest(f"Topic {name} is internal")


def _forget_write(task: asyncio.Task[Any]) -> None:
    """The caller may have stopped waiting: retrieve the outcome so it is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()


def _preview_partitions(count: int, node_id: int) -> dict[int, PartitionState]:
    return {p: PartitionState(p, (node_id,), node_id, 0, (node_id,)) for p in range(count)}
