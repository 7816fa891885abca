"""TopicService: topic creation, deletion, partitions and configs, keeping metadata and logs in step.

Owned by the event loop. Every change goes to the MetadataStore first, then the ReplicaManager
opens or drops logs to match it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping

from brook.broker.config import TOPIC_CONFIGS, BrokerConfig, log_config_for, validate_topic_configs
from brook.broker.replica_manager import ReplicaManager
from brook.common.errors import (
    InvalidPartitions,
    InvalidReplicationFactor,
    InvalidRequest,
    InvalidTopic,
    TopicAlreadyExists,
    UnknownTopicOrPartition,
)
from brook.metadata.api import MetadataStore, PartitionState, TopicState
from brook.storage.api import LogConfig

logger = logging.getLogger(__name__)

__all__ = ["ConfigSource", "TopicService", "validate_topic_name"]

_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")  # used with fullmatch: "$" alone would let "abc\n" through
MAX_TOPIC_NAME_LENGTH = 249
MAX_PARTITIONS = 100_000


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
    def __init__(self, config: BrokerConfig, metadata: MetadataStore, replicas: ReplicaManager) -> None:
        self.config = config
        self.metadata = metadata
        self.replicas = replicas

    def sync(self) -> None:
        topics = self.metadata.topics()
        default_min_isr = self.config.get("min.insync.replicas")
        self.replicas.sync_with(
            topics,
            {name: self.log_config(t) for name, t in topics.items()},
            brokers={b.node_id: b for b in self.metadata.live_brokers()},
            min_insync_replicas={
                name: int(t.configs.get("min.insync.replicas", default_min_isr)) for name, t in topics.items()
            },
        )

    def log_config(self, state: TopicState) -> LogConfig:
        return log_config_for(self.config, state.configs)

    def name_for_id(self, topic_id: uuid.UUID) -> str:
        for state in self.metadata.topics().values():
            if state.topic_id == topic_id:
                return state.name
        raise UnknownTopicOrPartition(f"no topic with id {topic_id}")

    def get_or_auto_create(self, name: str, *, allow_create: bool) -> TopicState:
        state = self.metadata.topic(name)
        if state is not None:
            return state
        validate_topic_name(name)
        if not (allow_create and self.config.bool("auto.create.topics.enable")):
            raise UnknownTopicOrPartition(f"Topic {name} not found.")
        logger.info("auto-creating topic name=%s", name)
        return self.create_topic(name, -1, -1, {})

    def create_topic(
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
        if assignments:
            num_partitions = len(assignments)
            replication_factor = len(next(iter(assignments.values())))
        if num_partitions == -1:
            num_partitions = self.config.int("num.partitions")
        if replication_factor == -1:
            replication_factor = self.config.int("default.replication.factor")
        if num_partitions <= 0 or num_partitions > MAX_PARTITIONS:
            raise InvalidPartitions(f"Number of partitions must be larger than 0 (got {num_partitions}).")
        brokers = len(self.metadata.live_brokers())
        if replication_factor <= 0:
            raise InvalidReplicationFactor("Replication factor must be larger than 0.")
        if replication_factor > brokers:
            raise InvalidReplicationFactor(
                f"Replication factor: {replication_factor} larger than available brokers: {brokers}."
            )
        checked = validate_topic_configs(configs)
        if self.metadata.topic(name) is not None:
            raise TopicAlreadyExists(f"Topic '{name}' already exists.")
        if validate_only:
            return TopicState(
                name, uuid.UUID(int=0), _preview_partitions(num_partitions, self.replicas.node_id), checked
            )
        state = self.metadata.create_topic(
            name, num_partitions, replication_factor, checked, internal=internal
        )
        logger.info("created topic name=%s partitions=%d configs=%s", name, num_partitions, checked)
        self.sync()
        return state

    def delete_topic(self, name: str) -> TopicState:
        state = self.metadata.delete_topic(name)
        logger.info("deleted topic name=%s", name)
        self.sync()
        return state

    def create_partitions(self, name: str, count: int, *, validate_only: bool = False) -> TopicState:
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
        if validate_only:
            return state
        state = self.metadata.add_partitions(name, count)
        logger.info("added partitions name=%s count=%d", name, count)
        self.sync()
        return state

    def set_topic_configs(
        self, name: str, configs: Mapping[str, str | None], *, validate_only: bool = False
    ) -> None:
        if self.metadata.topic(name) is None:
            raise UnknownTopicOrPartition(f"The topic '{name}' does not exist.")
        checked = validate_topic_configs(configs)
        if validate_only:
            return
        self.metadata.set_topic_configs(name, checked)
        logger.info("altered topic configs name=%s configs=%s", name, checked)
        self.sync()

    def describe_topic_configs(self, state: TopicState) -> dict[str, tuple[str, int]]:
        """Every topic config with its value and source (overrides first, then broker defaults)."""
        described: dict[str, tuple[str, int]] = {}
        for name in TOPIC_CONFIGS:
            if name in state.configs:
                described[name] = (state.configs[name], ConfigSource.DYNAMIC_TOPIC_CONFIG)
            else:
                value = self.config.topic_default(name)
                source = (
                    ConfigSource.DEFAULT_CONFIG
                    if value == TOPIC_CONFIGS[name].default
                    else ConfigSource.STATIC_BROKER_CONFIG
                )
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


def _preview_partitions(count: int, node_id: int) -> dict[int, PartitionState]:
    return {p: PartitionState(p, (node_id,), node_id, 0, (node_id,)) for p in range(count)}
