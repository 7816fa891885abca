"""Bytes in and out per topic, from the brokers' Prometheus endpoints: the Kafka protocol has no request for
them, so the console reads what dashboards read (as Kafka consoles read JMX or the JMX exporter).

Each broker's `/metrics` (brook's, or Kafka's through the Prometheus JMX exporter with the same names:
`kafka_server_brokertopicmetrics_bytesin_total{topic="..."}`, `..._bytesout_total`) is fetched over HTTP and
only those lines are read. Each broker counts what it leads, so the cluster's count of a topic is the sum over
brokers. Blocking (urllib): the snapshot runs it in a thread, each fetch bounded by the timeout.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

__all__ = ["TopicBytes", "parse_topic_bytes", "read_topic_bytes"]

_SERIES = {
    "kafka_server_brokertopicmetrics_bytesin_total": "bytes_in",
    "kafka_server_brokertopicmetrics_bytesout_total": "bytes_out",
}
_LINE = re.compile(
    r'^(kafka_server_brokertopicmetrics_bytes(?:in|out)_total)\{(?:[^}]*,)?topic="([^"]*)"[^}]*\}\s+(\S+)'
)
_MAX_BYTES = 64 << 20  # a /metrics page larger than this is cut (1,000 partitions give about 1 MB)


@dataclass
class TopicBytes:
    """Counters summed over the brokers that answered: topic -> bytes."""

    bytes_in: dict[str, int] = field(default_factory=dict)
    bytes_out: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, other: TopicBytes) -> None:
        for mine, theirs in ((self.bytes_in, other.bytes_in), (self.bytes_out, other.bytes_out)):
            for topic, n in theirs.items():
                mine[topic] = mine.get(topic, 0) + n
        self.errors.extend(other.errors)


def parse_topic_bytes(text: str) -> TopicBytes:
    """The per-topic byte counters of one Prometheus text page."""
    found = TopicBytes()
    for line in text.splitlines():
        if not line.startswith("kafka_server_brokertopicmetrics_bytes"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        name, topic, value = match.groups()
        counters = found.bytes_in if _SERIES[name] == "bytes_in" else found.bytes_out
        try:
            counters[topic] = counters.get(topic, 0) + int(float(value))
        except ValueError:
            continue
    return found


def read_topic_bytes(urls: Sequence[str], timeout_s: float) -> TopicBytes:
    """Every endpoint's counters, summed; an endpoint that fails is named in `errors`."""
    total = TopicBytes()
    if not urls:
        return total
    with ThreadPoolExecutor(min(len(urls), 8), thread_name_prefix="console-metrics") as pool:
        for page in pool.map(lambda url: _read(url, timeout_s), urls):
            total.add(page)
    return total


def _read(url: str, timeout_s: float) -> TopicBytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read(_MAX_BYTES).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        return TopicBytes(errors=[f"{url}: {exc}"])
    return parse_topic_bytes(text)
