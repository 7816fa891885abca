"""Apache Kafka itself as a benchmark peer: the kafka_2.13 jars from Maven Central, KRaft mode, data on disk.

`make bench` copies Kafka's runtime jars into build/bench-kafka/lib (bench/kafka/pom.xml). A broker here is
what bin/kafka-server-start.sh starts: `java <Kafka's heap and JVM options> kafka.Kafka server.properties`,
after `kafka-storage format` (kafka.tools.StorageTool) wrote the cluster id into a fresh log dir. The one
node is broker and KRaft controller at once (combined mode); every setting is Kafka's default except the
listeners, the log dir and what config/server.properties in Kafka's own distribution sets for one node
(replication factors of the internal topics 1, no initial rebalance delay — brook's test broker sets the
same). SETTINGS and JVM_OPTS are recorded in the results.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from brokers import ProcStats, _free_port, _wait_for_port

from brook.testing.managed_process import terminate

__all__ = [
    "JVM_OPTS",
    "KAFKA_LIB",
    "KAFKA_VERSION",
    "SETTINGS",
    "KafkaBroker",
    "KafkaCluster",
    "java_classpath",
    "new_cluster_id",
]

KAFKA_LIB = Path(__file__).resolve().parent.parent / "build" / "bench-kafka" / "lib"
# bin/kafka-server-start.sh's KAFKA_HEAP_OPTS and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
JVM_OPTS = [
    "-Xmx1G",
    "-Xms1G",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]
# What Kafka's config/server.properties sets for a single node; everything else keeps Kafka's default.
SETTINGS = {
    "offsets.topic.replication.factor": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}
# Kafka's log4j2 set-up of config/log4j2.yaml, reduced to its server.log appender at INFO.
_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = server
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = server
"""


def java_classpath() -> str | None:
    """The jars' classpath, or None when `make bench` has not fetched them (then Kafka is skipped)."""
    if not KAFKA_LIB.is_dir() or not any(KAFKA_LIB.glob("kafka_2.13-*.jar")):
        return None
    return str(KAFKA_LIB / "*")


def new_cluster_id() -> str:
    """A cluster id as `kafka-storage random-uuid` prints it: 16 random bytes, URL-safe base64, unpadded,
    never starting with "-" (Kafka's Uuid.randomUuid draws again: `format -t -8ZQ...` reads it as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def kafka_version() -> str:
    jars = sorted(KAFKA_LIB.glob("kafka_2.13-*.jar"))
    return jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "?"


KAFKA_VERSION = kafka_version()


class KafkaBroker:
    """One Kafka node (broker + KRaft controller) in a child JVM on 127.0.0.1, data in a temporary dir."""

    name = "kafka"

    def __init__(
        self,
        classpath: str,
        overrides: dict[str, str] | None = None,
        *,
        node_id: int = 1,
        roles: str = "broker,controller",
        voters: str | None = None,
        cluster_id: str | None = None,
    ) -> None:
        """One node; `voters` (node@host:port) names the KRaft controller when this node is not one."""
        self.classpath = classpath
        self.roles = roles
        # until the listener accepts (scale_bench.py waits longer at 10,000 partitions)
        self.startup_timeout_s = 120.0
        self.dir = Path(tempfile.mkdtemp(prefix="kafka-bench-"))
        self.port = _free_port()
        self.controller_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        listeners = []
        if "broker" in roles:
            listeners.append(f"PLAINTEXT://127.0.0.1:{self.port}")
        if "controller" in roles:
            listeners.append(f"CONTROLLER://127.0.0.1:{self.controller_port}")
            voters = voters or f"{node_id}@127.0.0.1:{self.controller_port}"
        props = {
            "process.roles": roles,
            "node.id": str(node_id),
            "controller.quorum.voters": str(voters),
            "listeners": ",".join(listeners),
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            **SETTINGS,
            **(overrides or {}),
        }
        if "broker" in roles:
            props["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{self.port}"
            props["inter.broker.listener.name"] = "PLAINTEXT"
        self.config = self.dir / "server.properties"
        self.config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.dir / "log4j2.properties").write_text(_LOG4J2.format(log=self.dir / "server.log"))
        cluster_id = cluster_id or new_cluster_id()
        self._java(
            ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config)], check=True
        )

    def _java(self, args: list[str], *, check: bool = False) -> None:
        cmd = ["java", "-Xmx256M", "-cp", self.classpath, *args]
        subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def start(self) -> KafkaBroker:
        log4j = f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}"
        cmd = ["java", *JVM_OPTS, log4j, "-cp", self.classpath, "kafka.Kafka", str(self.config)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port if "broker" in self.roles else self.controller_port, self.startup_timeout_s)
        return self

    def restart_after_kill(self) -> float:
        """SIGKILL, then the seconds until the restarted broker accepts connections."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        start = time.perf_counter()
        self.start()
        return time.perf_counter() - start

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def stats(self) -> ProcStats:
        assert self.process is not None
        return ProcStats(self.process.pid)

    def open_files(self) -> int:
        assert self.process is not None
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def close(self) -> None:
        if self.process is not None:
            terminate(self.process, 60)
        shutil.rmtree(self.dir, ignore_errors=True)


class KafkaCluster:
    """`size` Kafka brokers and one KRaft controller of their own (four JVMs), as a deployment runs them."""

    name = "kafka"

    def __init__(self, classpath: str, size: int = 3, overrides: dict[str, str] | None = None) -> None:
        cluster_id = new_cluster_id()
        self.controller = KafkaBroker(classpath, node_id=100, roles="controller", cluster_id=cluster_id)
        voters = f"100@127.0.0.1:{self.controller.controller_port}"
        self.brokers = [
            KafkaBroker(
                classpath, overrides, node_id=i + 1, roles="broker", voters=voters, cluster_id=cluster_id
            )
            for i in range(size)
        ]

    def start(self) -> KafkaCluster:
        self.controller.start()
        for broker in self.brokers:
            broker.start()
        return self

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    @property
    def stats(self) -> GroupStats:
        return GroupStats([n.stats for n in (self.controller, *self.brokers)])

    def close(self) -> None:
        for node in (*self.brokers, self.controller):
            node.close()


class GroupStats:
    """CPU seconds and RSS bytes summed over a cluster's processes (brokers, controller or ZooKeeper)."""

    def __init__(self, members: list[ProcStats]) -> None:
        self.members = members

    def cpu_s(self) -> float:
        return sum(m.cpu_s() for m in self.members)

    def rss_bytes(self) -> int:
        return sum(m.rss_bytes() for m in self.members)
