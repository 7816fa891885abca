"""Metrics of traffic: requests per API and their time split, bytes and messages per topic, purgatories,
log flushes, connections. Names as the Prometheus JMX exporter gives Kafka's MBeans (docs/operations.md).

Kafka's timers are exported by the JMX exporter as quantile gauges; brook exports them as Prometheus
histograms under the same name (`_bucket`, `_sum`, and `_count` as the JMX exporter's count).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from brook.broker.metrics_state import BrokerCollector
from brook.broker.replica_manager import FETCH_PURGATORY, PRODUCE_PURGATORY
from brook.broker.request_metrics import PHASES
from brook.common.errors import ErrorCode

__all__ = ["TrafficCollector"]

_PHASE_HELP = {
    "requestqueuetimems": "From the request read to its handler starting",
    "localtimems": "Handler time on this broker, less time parked",
    "remotetimems": "Time parked: acks=all or a commit waiting for the ISR, a fetch for min_bytes, a rebalance",
    "responsequeuetimems": "From the response ready to its connection's writer taking it",
    "responsesendtimems": "Encoding the response and handing it to the socket",
    "totaltimems": "From the request read to its response handed to the socket",
    "throttletimems": "The throttle time a client quota gave the response",
}


class TrafficCollector(BrokerCollector):
    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._topics()
        yield from self._purgatories()
        yield from self._flushes()
        yield from self._connections()

    def _requests(self) -> Iterator[Metric]:
        by_name = sorted(self._broker.server.request_metrics.apis().items())
        rate = CounterMetricFamily(
            "kafka_network_requestmetrics_requests", "Requests answered", labels=["request", "version"]
        )
        errors = CounterMetricFamily(
            "kafka_network_requestmetrics_errors",
            "Error codes in responses, NONE included (one per partition where the response has them)",
            labels=["request", "error"],
        )
        for name, api in by_name:
            for version, count in sorted(api.requests.items()):
                rate.add_metric([name, str(version)], count)
            for code, count in sorted(api.errors.items()):
                errors.add_metric([name, _error_name(code)], count)
        yield rate
        yield errors
        for i, phase in enumerate(PHASES):
            family = HistogramMetricFamily(
                f"kafka_network_requestmetrics_{phase}", _PHASE_HELP[phase] + " (ms)", labels=["request"]
            )
            for name, api in by_name:
                buckets, total = api.snapshot(i)
                family.add_metric([name], buckets, total)
            yield family

    def _topics(self) -> Iterator[Metric]:
        stats = self._broker.stats
        hosted = {tp.topic for tp in self._broker.replicas.partitions}
        for gone in [t for t in stats.topics if t not in hosted]:
            del stats.topics[gone]  # a deleted topic's series go, as Kafka removes its BrokerTopicMetrics
        families = {
            "bytes_in": CounterMetricFamily(
                "kafka_server_brokertopicmetrics_bytesin", "Record bytes produced", labels=["topic"]
            ),
            "messages_in": CounterMetricFamily(
                "kafka_server_brokertopicmetrics_messagesin", "Records produced", labels=["topic"]
            ),
            "bytes_out": CounterMetricFamily(
                "kafka_server_brokertopicmetrics_bytesout",
                "Record bytes fetched by consumers",
                labels=["topic"],
            ),
        }
        for topic, topic_stats in sorted(stats.topics.items()):
            for attribute, family in families.items():
                family.add_metric([topic], getattr(topic_stats, attribute))
        yield from families.values()
        yield CounterMetricFamily(
            "kafka_server_brokertopicmetrics_replicationbytesout",
            "Record bytes fetched by followers",
            value=stats.replication_bytes_out,
        )
        yield CounterMetricFamily(
            "kafka_server_brokertopicmetrics_replicationbytesin",
            "Record bytes this broker appended as a follower",
            value=self._broker.replicas.replication_bytes_in,
        )

    def _purgatories(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "kafka_server_delayedoperationpurgatory_purgatorysize",
            "Parked requests, counted once per partition they wait on",
            labels=["delayedoperation"],
        )
        operations = GaugeMetricFamily(
            "kafka_server_delayedoperationpurgatory_numdelayedoperations",
            "Parked requests",
            labels=["delayedoperation"],
        )
        for name in (PRODUCE_PURGATORY, FETCH_PURGATORY):
            parked, watched = self._broker.replicas.purgatory[name]
            size.add_metric([name], watched)
            operations.add_metric([name], parked)
        yield size
        yield operations

    def _flushes(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "kafka_log_logflushstats_logflushrateandtimems", "Log flushes (fsync) and their time in ms"
        )
        buckets, total = self._broker.log_manager.flush_stats.snapshot()
        family.add_metric([], buckets, total)
        yield family

    def _connections(self) -> Iterator[Metric]:
        """Kafka's socket-server-metrics per listener; every listener has its series from the start."""
        listeners = self._broker.server.ports
        by_listener = self._broker.server.connections_by_listener()
        accepted = self._broker.stats.accepted_by_listener
        families = (
            (GaugeMetricFamily, "connection_count", "Open client connections", by_listener),
            (CounterMetricFamily, "connection_creation", "Client connections accepted", accepted),
        )
        for family_type, name, documentation, counts in families:
            family = family_type(
                f"kafka_server_socket_server_metrics_{name}", documentation, labels=["listener"]
            )
            for listener in sorted(set(listeners) | set(counts)):
                family.add_metric([listener], counts.get(listener, 0))
            yield family


def _error_name(code: int) -> str:
    """Kafka's Errors name ("NONE", "NOT_LEADER_OR_FOLLOWER"); an unknown code as Kafka maps it."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return "UNKNOWN_SERVER_ERROR"
