"""Counters the broker keeps; broker/metrics.py publishes them."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class TopicStats:
    """Kafka's BrokerTopicMetrics for one topic: client traffic only (replication is counted apart)."""

    bytes_in: int = 0  # record bytes appended from Produce requests
    messages_in: int = 0  # records appended from Produce requests
    bytes_out: int = 0  # record bytes sent in answers to consumers' Fetch requests


@dataclass
class BrokerStats:
    connections_accepted: int = 0
    connections_closed_for_protocol_errors: int = 0
    connections_refused: int = 0  # over max.connections or max.connections.per.ip
    connections_closed_idle: int = 0  # idle for connections.max.idle.ms
    requests: int = 0
    produce_rejected: int = 0
    throttled_responses: int = 0  # client quotas: responses sent with a throttle time
    replication_bytes_out: int = 0  # record bytes sent to followers
    topics: dict[str, TopicStats] = field(default_factory=dict)
    accepted_by_listener: dict[str, int] = field(default_factory=dict)  # connections accepted, per listener

    def accepted_on(self, listener_name: str) -> None:
        self.accepted_by_listener[listener_name] = self.accepted_by_listener.get(listener_name, 0) + 1

    def topic(self, name: str) -> TopicStats:
        stats = self.topics.get(name)
        if stats is None:
            stats = self.topics[name] = TopicStats()
        return stats
