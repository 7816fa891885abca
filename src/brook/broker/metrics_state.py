"""Metrics of partition state: replicas, ISRs, the controller, consumer-group lag.

Names are those the Prometheus JMX exporter's Kafka configuration gives Kafka's MBeans (lowercased
`kafka_<domain>_<type>_<name>`, `_total` for meters' counts); docs/operations.md maps each one back to its
MBean. Read on the event loop at scrape time from the objects that own the state: nothing is kept twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from brook.broker.app import Broker

__all__ = ["BrokerCollector", "PartitionStateCollector"]

_TP = ["topic", "partition"]
_GROUP_TP = ["consumergroup", "topic", "partition"]


class BrokerCollector(Collector):
    """A collector reading one broker's state at scrape time (on the event loop)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker


class PartitionStateCollector(BrokerCollector):
    def collect(self) -> Iterator[Metric]:
        yield from self._replica_manager()
        yield from self._controller()
        yield from self._group_lag()

    def _replica_manager(self) -> Iterator[Metric]:
        """Kafka's ReplicaManager gauges: counted over the partitions this broker leads (as Kafka does)."""
        replicas = self._broker.replicas
        hosted = leaders = under_replicated = under_min_isr = at_min_isr = offline = 0
        per_partition_under = GaugeMetricFamily(
            "kafka_cluster_partition_underreplicated",
            "1 if this broker leads the partition and its ISR is smaller than its replica set",
            labels=_TP,
        )
        isr_size = GaugeMetricFamily(
            "kafka_cluster_partition_insyncreplicascount",
            "ISR size of a partition this broker leads",
            labels=_TP,
        )
        for tp, partition in list(replicas.partitions.items()):
            hosted += 1
            if partition.log.is_offline:
                offline += 1
                continue
            if not partition.is_leader:
                continue
            leaders += 1
            isr = len(partition.isr)
            under = isr < len(partition.replicas)
            under_replicated += under
            under_min_isr += isr < partition.min_insync_replicas
            at_min_isr += isr == partition.min_insync_replicas
            labels = [tp.topic, str(tp.partition)]
            per_partition_under.add_metric(labels, int(under))
            isr_size.add_metric(labels, isr)
        yield _gauge("kafka_server_replicamanager_partitioncount", "Partitions hosted here", hosted)
        yield _gauge("kafka_server_replicamanager_leadercount", "Partitions led here", leaders)
        yield _gauge(
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Partitions led here whose ISR is smaller than their replica set",
            under_replicated,
        )
        yield _gauge(
            "kafka_server_replicamanager_underminisrpartitioncount",
            "Partitions led here whose ISR is below min.insync.replicas (acks=all produce fails)",
            under_min_isr,
        )
        yield _gauge(
            "kafka_server_replicamanager_atminisrpartitioncount",
            "Partitions led here whose ISR is exactly min.insync.replicas",
            at_min_isr,
        )
        yield _gauge(
            "kafka_server_replicamanager_offlinereplicacount",
            "Partitions hosted in an offline log dir",
            offline,
        )
        yield per_partition_under
        yield isr_size
        yield CounterMetricFamily(
            "kafka_server_replicamanager_isrshrinks",
            "ISR shrinks this leader applied",
            value=replicas.isr_shrinks,
        )
        yield CounterMetricFamily(
            "kafka_server_replicamanager_isrexpands",
            "ISR expands this leader applied",
            value=replicas.isr_expands,
        )
        yield CounterMetricFamily(
            "kafka_server_replicamanager_failedisrupdates",
            "ISR changes the metadata store refused",
            value=replicas.failed_isr_updates,
        )

    def _controller(self) -> Iterator[Metric]:
        metadata = self._broker.metadata
        controller = getattr(metadata, "controller", None)  # the ZooKeeper store's; a single node has none
        active = controller.is_active if controller is not None else True
        yield _gauge(
            "kafka_controller_kafkacontroller_activecontrollercount",
            "1 on the broker that is the controller, else 0",
            int(active),
        )
        offline = partitions = 0
        topics = metadata.topics() if active else {}
        if active:
            live = {b.node_id for b in metadata.live_brokers()}
            for state in topics.values():
                for p in state.partitions.values():
                    partitions += 1
                    offline += p.leader < 0 or p.leader not in live
        yield _gauge(
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "Partitions without a live leader (reported by the controller; 0 elsewhere)",
            offline,
        )
        yield _gauge(
            "kafka_controller_kafkacontroller_globalpartitioncount",
            "Partitions in the cluster (reported by the controller; 0 elsewhere)",
            partitions,
        )
        yield _gauge(
            "kafka_controller_kafkacontroller_globaltopiccount",
            "Topics in the cluster (reported by the controller; 0 elsewhere)",
            len(topics),
        )
        elections = controller.leader_elections if controller is not None else 0
        unclean = controller.unclean_leader_elections if controller is not None else 0
        yield CounterMetricFamily(
            "brook_controller_partition_leader_elections",
            "Partitions this broker, as controller, gave a new leader",
            value=elections,
        )
        yield CounterMetricFamily(
            "kafka_controller_controllerstats_uncleanleaderelections",
            "Leaders this broker, as controller, elected from outside the ISR",
            value=unclean,
        )
        timing = HistogramMetricFamily(
            "kafka_controller_controllerstats_leaderelectionrateandtimems",
            "Controller passes that elected leaders, and their time in ms",
        )
        if controller is not None:
            buckets, total = controller.election_stats.snapshot()
        else:
            buckets, total = [("+Inf", 0)], 0.0
        timing.add_metric([], buckets, total)
        yield timing

    def _group_lag(self) -> Iterator[Metric]:
        """kafka_exporter's names: the coordinator knows each committed offset; a partition hosted here gives
        its high watermark (the end a consumer can read to), so lag = high watermark - committed offset."""
        current = GaugeMetricFamily(
            "kafka_consumergroup_current_offset",
            "Committed offset of a group on a partition",
            labels=_GROUP_TP,
        )
        lag = GaugeMetricFamily(
            "kafka_consumergroup_lag",
            "High watermark minus committed offset (partitions hosted on the group's coordinator)",
            labels=_GROUP_TP,
        )
        partitions = self._broker.replicas.partitions
        for group_id, tp, offset in self._broker.groups.coordinator.committed_offsets():
            labels = [group_id, tp.topic, str(tp.partition)]
            current.add_metric(labels, offset)
            partition = partitions.get(tp)
            if partition is not None and not partition.log.is_offline:
                lag.add_metric(labels, max(partition.log.high_watermark - offset, 0))
        yield current
        yield lag


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
