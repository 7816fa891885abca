"""Three replicating brokers, RF=3, acks=all, min.insync.replicas=2: brook against Apache Kafka.

    python bench/cluster_bench.py                  # full: rounds A,B,B,A
    python bench/cluster_bench.py --rounds 1 --scale 0.2

brook: three `brook serve` processes on one ZooKeeper (its metadata store), clients straight to the
brokers (no fault proxy). Kafka: three brokers and one KRaft controller, four JVMs with Kafka's heap.
Broker CPU and RSS are summed over every process of the cluster (ZooKeeper and the controller
included). The topic has 3 partitions, one led by each broker. Figures are written to
bench/results/<time>-cluster.json, or $BENCH_RUN_DIR/cluster.json (targets.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import confluent_kafka
import java_perf
import report
import targets
import workloads
from brokers import ProcStats, _free_port
from kafka_broker import GroupStats, KafkaCluster, java_classpath
from workloads import Sample

from brook.testing import BrookProcess
from brook.testing.zookeeper import ZooKeeperProcess

TOPIC_CONFIG = {"min.insync.replicas": "2"}


class BrookCluster3:
    name = "brook"

    def __init__(self, size: int = 3) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="brook-cluster-bench-"))
        self.zookeeper = ZooKeeperProcess(self.dir / "zk")
        self.brokers: list[BrookProcess] = []
        self.size = size

    def start(self) -> BrookCluster3:
        self.zookeeper.start()
        for i in range(self.size):
            overrides = {"broker.id": str(i), "zookeeper.connect": f"{self.zookeeper.connect}/brook"}
            broker = BrookProcess(
                self.dir / f"broker-{i}", overrides=overrides, port=_free_port(), startup_timeout_s=180
            )
            self.brokers.append(broker.start())
        return self

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    @property
    def stats(self) -> GroupStats:
        pids = [b.process.pid for b in self.brokers if b.process is not None]
        assert self.zookeeper.process is not None
        return GroupStats([ProcStats(p) for p in [*pids, self.zookeeper.process.pid]])

    def close(self) -> None:
        for broker in self.brokers:
            broker.stop()
        self.zookeeper.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def session(cluster: Any, classpath: str, count: int) -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    try:
        cluster.start()
        workloads.create_topic(
            cluster.bootstrap, "rf3-java", 3, replication_factor=3, config=TOPIC_CONFIG, timeout_s=120
        )
        props = {"acks": "all", "enable.idempotence": "false"}
        out["RF=3 produce 1KiB acks=all p3 [java]"] = java_perf.producer_perf(
            classpath, cluster.stats, cluster.bootstrap, "rf3-java", count=count, size=1024, props=props
        )
        workloads.create_topic(
            cluster.bootstrap, "rf3-py", 3, replication_factor=3, config=TOPIC_CONFIG, timeout_s=120
        )
        out["RF=3 produce 1KiB acks=all p3 [py]"] = workloads.produce(
            cluster.bootstrap, cluster.stats, "rf3-py", count=count, size=1024, partitions=3, acks="all"
        )
        workloads.create_topic(
            cluster.bootstrap, "rf3-latency", 1, replication_factor=3, config=TOPIC_CONFIG, timeout_s=120
        )
        out["RF=3 latency 1k/s acks=all [py]"] = workloads.latency(
            cluster.bootstrap, cluster.stats, "rf3-latency", rate=1000, seconds=5
        )
        for name, sample in out.items():
            sample.extra["load avg"] = os.getloadavg()[0]
            line = f"#   {cluster.name:5} {name:38} {sample.messages / sample.wall_s:10,.0f} msg/s"
            print(line, flush=True)  # noqa: T201
    finally:
        cluster.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    classpath = java_classpath()
    if classpath is None:
        print("# cluster bench: no Kafka jars in build/bench-kafka (run `make bench`)")  # noqa: T201
        return 1
    count = int(125_000 * args.scale)
    factories = {"brook": BrookCluster3, "kafka": lambda: KafkaCluster(classpath, 3)}
    order = list(factories)
    results: dict[str, dict[str, list[Sample]]] = {}
    sessions = []
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            load = os.getloadavg()[0]
            print(f"# cluster round {r + 1}/{args.rounds}: {name} (load average {load:.2f})", flush=True)  # noqa: T201
            sessions.append({"round": r + 1, "broker": name, "load_avg_start": load})
            try:
                samples = session(factories[name](), classpath, count)
            except (RuntimeError, OSError, confluent_kafka.KafkaException) as exc:
                print(f"#   {name} FAILED: {str(exc)[:300]}", flush=True)  # noqa: T201
                sessions[-1]["failed"] = str(exc)[:300]
                continue
            for workload, sample in samples.items():
                results.setdefault(workload, {n: [] for n in order})[name].append(sample)
    print()  # noqa: T201
    report.print_table(results, order)
    raw = report.samples_as_dicts(results)
    out = targets.write_results("cluster", {"count": count, "sessions": sessions, "samples": raw})
    print(f"\n# results: {out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
