"""Replication throttles: Kafka's ReplicationQuotaManager, one for each side of replication.

The bound is a broker config, updatable while running: `leader.replication.throttled.rate` (bytes/s this
broker sends to followers) and `follower.replication.throttled.rate` (bytes/s it fetches as a follower); Kafka's
default, Long.MAX_VALUE, means no throttle. Which replicas are throttled is a topic config naming
"partition:broker" pairs, or "*" for all: `leader.replication.throttled.replicas` throttles the partitions
whose listed broker is this one when it leads them, `follower.replication.throttled.replicas` those whose
listed broker is this one when it follows them. `kafka-reassign-partitions.sh --throttle` sets both during a
move and `--verify` clears them when it is done.

As in Kafka, only replicas outside the ISR are throttled (a member of the ISR is never held back, so acks=all
never waits on a throttle): once the throttled bytes of the last window (11 one-second samples) exceed the
bound, the leader answers a throttled follower's fetch without records for those partitions, and a
follower leaves them out of its fetches, until the rate falls back under the bound.
"""

from __future__ import annotations

from collections.abc import Mapping

from brook.broker.quota_rules import RateSensor
from brook.common.types import TopicPartition

__all__ = [
    "LEADER_RATE",
    "FOLLOWER_RATE",
    "LEADER_REPLICAS",
    "FOLLOWER_REPLICAS",
    "NO_THROTTLE",
    "ReplicationQuota",
    "throttled_partitions",
]

LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
LEADER_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_REPLICAS = "follower.replication.throttled.replicas"
NO_THROTTLE = 2**63 - 1  # Long.MAX_VALUE, Kafka's default rate
ALL_PARTITIONS = "*"


def throttled_partitions(value: str, broker_id: int) -> frozenset[int] | str:
    """The partitions a throttled-replicas config names for `broker_id` ("*": all of them). Entries are
    "partition:broker" (the config's validator refuses anything else when it is set)."""
    entries = [e.strip() for e in value.split(",") if e.strip()]
    if ALL_PARTITIONS in entries:
        return ALL_PARTITIONS
    partitions = set()
    for entry in entries:
        partition, _, broker = entry.partition(":")
        if broker.strip() == str(broker_id):
            partitions.add(int(partition))
    return frozenset(partitions)


class ReplicationQuota:
    """One side's throttle: its bound, the throttled partitions, and the rate of throttled bytes."""

    def __init__(self, replicas_config: str) -> None:
        self.replicas_config = replicas_config
        self.bound = NO_THROTTLE
        self._throttled: dict[str, frozenset[int] | str] = {}
        self._sensor = RateSensor()

    def configure(self, bound: int, topic_configs: Mapping[str, Mapping[str, str]], broker_id: int) -> None:
        """The rate bound, and every topic's throttled partitions for `broker_id` (from its configs)."""
        self.bound = bound
        throttled = {}
        for name, configs in topic_configs.items():
            value = configs.get(self.replicas_config, "")
            if value:
                partitions = throttled_partitions(value, broker_id)
                if partitions:
                    throttled[name] = partitions
        self._throttled = throttled

    @property
    def active(self) -> bool:
        return self.bound < NO_THROTTLE and bool(self._throttled)

    def is_throttled(self, tp: TopicPartition) -> bool:
        partitions = self._throttled.get(tp.topic)
        return partitions is not None and (partitions == ALL_PARTITIONS or tp.partition in partitions)

    def exceeded(self, now_ms: int) -> bool:
        return self.bound < NO_THROTTLE and self._sensor.rate(now_ms) > self.bound

    def record(self, size: int, now_ms: int) -> None:
        self._sensor.record(size, now_ms)
