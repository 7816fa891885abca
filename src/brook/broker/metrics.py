"""Prometheus metrics: publishes BrokerStats and per-partition log state at GET /metrics.

Served by a tiny HTTP responder on the broker's own event loop (no thread, so nothing reads broker
state while the loop changes it). Enabled by `brook.metrics.port` (-1, the default, turns it off;
0 picks a free port); it listens on `brook.metrics.host` (127.0.0.1 by default), not on the client
listener's address, so metrics are not exposed to every client that can reach the broker. Metric names follow
Kafka's JMX names as the Prometheus JMX exporter spells them (metrics_state.py: partitions, controller, group
lag; metrics_traffic.py: requests, topics, purgatories, flushes, connections); docs/operations.md lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from brook.broker.metrics_state import BrokerCollector, PartitionStateCollector
from brook.broker.metrics_traffic import TrafficCollector

if TYPE_CHECKING:
    from brook.broker.app import Broker

logger = logging.getLogger(__name__)

__all__ = ["MetricsServer"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _LogCollector(BrokerCollector):
    """brook's own counters, and every hosted replica's log offsets and size."""

    def collect(self) -> Iterator[Metric]:
        stats = self._broker.stats
        yield CounterMetricFamily("brook_requests", "Requests handled", value=stats.requests)
        yield CounterMetricFamily(
            "brook_connections_accepted", "Connections accepted", value=stats.connections_accepted
        )
        yield CounterMetricFamily(
            "brook_connections_closed_protocol_errors",
            "Connections closed because the peer broke the protocol",
            value=stats.connections_closed_for_protocol_errors,
        )
        yield CounterMetricFamily(
            "brook_connections_refused",
            "Connections closed on accept: max.connections or max.connections.per.ip reached",
            value=stats.connections_refused,
        )
        yield CounterMetricFamily(
            "brook_connections_closed_idle",
            "Connections closed after connections.max.idle.ms without activity",
            value=stats.connections_closed_idle,
        )
        yield GaugeMetricFamily(
            "brook_request_memory_reserved_bytes",
            "Bytes big requests hold in the queued.max.request.bytes pool",
            value=self._broker.server.memory.reserved,
        )
        yield CounterMetricFamily(
            "brook_produce_rejected_batches",
            "Produced batches rejected as corrupt or invalid",
            value=stats.produce_rejected,
        )
        end = GaugeMetricFamily("kafka_log_log_end_offset", "Log end offset", labels=["topic", "partition"])
        start = GaugeMetricFamily(
            "kafka_log_log_start_offset", "Log start offset", labels=["topic", "partition"]
        )
        size = GaugeMetricFamily("kafka_log_size", "Log size in bytes", labels=["topic", "partition"])
        hw = GaugeMetricFamily(
            "kafka_cluster_partition_high_watermark", "High watermark", labels=["topic", "partition"]
        )
        for tp, partition in list(self._broker.replicas.partitions.items()):
            log = partition.log
            if log.is_offline:
                continue
            labels = [tp.topic, str(tp.partition)]
            end.add_metric(labels, log.log_end_offset)
            start.add_metric(labels, log.log_start_offset)
            size.add_metric(labels, log.size_bytes)
            hw.add_metric(labels, log.high_watermark)
        yield from (end, start, size, hw)
        offline = GaugeMetricFamily(
            "kafka_log_offline_log_directory_count", "Log dirs taken offline by I/O errors"
        )
        offline.add_metric([], len(self._broker.log_manager.offline_dirs))
        yield offline


class MetricsServer:
    def __init__(self, broker: Broker) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_LogCollector(broker))
        self.registry.register(PartitionStateCollector(broker))
        self.registry.register(TrafficCollector(broker))
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("metrics listening on http://%s:%d/metrics", host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.split()
            if len(parts) >= 2 and parts[0] == b"GET" and parts[1].split(b"?")[0] == b"/metrics":
                body = generate_latest(self.registry)
                status = b"200 OK"
            else:
                body, status = b"not found\n", b"404 Not Found"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: " + CONTENT_TYPE.encode()
                + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )  # fmt: skip
            await writer.drain()
        # CancelledError: the loop's end (Python 3.11's stream server logs a cancelled handler task as a traceback)
        except (TimeoutError, ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
