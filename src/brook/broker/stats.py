"""Counters the broker keeps; broker/metrics.py publishes them."""

from dataclasses import dataclass


@dataclass
class BrokerStats:
    connections_accepted: int = 0
    connections_closed_for_protocol_errors: int = 0
    connections_refused: int = 0  # over max.connections or max.connections.per.ip
    connections_closed_idle: int = 0  # idle for connections.max.idle.ms
    requests: int = 0
    produce_rejected: int = 0
    throttled_responses: int = 0  # client quotas: responses sent with a throttle time
