"""Counters the broker keeps; broker/metrics.py publishes them."""

from dataclasses import dataclass


@dataclass
class BrokerStats:
    connections_accepted: int = 0
    connections_closed_for_protocol_errors: int = 0
    requests: int = 0
    produce_rejected: int = 0
    throttled_responses: int = 0  # client quotas: responses sent with a throttle time
