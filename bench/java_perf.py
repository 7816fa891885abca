"""The native load generator: Kafka's own perf-test tools with the Java client, the same jars as the Kafka peer.

org.apache.kafka.tools.ProducerPerformance (bin/kafka-producer-perf-test.sh) and ConsumerPerformance
(bin/kafka-consumer-perf-test.sh) run in a child JVM against any of the brokers. Debian ships librdkafka
but not its rdkafka_performance example, so these are the native client here; the Python workloads
(workloads.py, confluent-kafka = librdkafka driven from Python) run beside them.

Figures come from the tool's own summary line (its rate is over its send/fetch loop, without the JVM's
start), the broker's CPU from /proc over the whole child run (so connection and metadata set-up count
too), the client's CPU from the child's rusage.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from brokers import ProcStats
from workloads import Sample

__all__ = ["consumer_perf", "producer_perf", "send_loop"]

# "200000 records sent, 13731.5 records/sec (13.41 MB/sec), 1743.22 ms avg latency, 5504.00 ms max
# latency, 1049 ms 50th, 5278 ms 95th, 5474 ms 99th, 5501 ms 99.9th."
_PRODUCER_SUMMARY = re.compile(
    r"(?P<sent>\d+) (?P<steady>steady state )?records sent, (?P<rate>[\d.]+) records/sec .*?(?P<avg>[\d.]+) ms avg latency, "
    r"(?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, "
    r"(?P<p999>\d+) ms 99.9th"
)
_CLIENT_JVM = ["java", "-Xmx512M", "-XX:+UseG1GC", "-Djava.awt.headless=true"]


def _run(classpath: str, stats: ProcStats, args: list[str], timeout_s: float) -> tuple[str, float, float]:
    """(stdout, broker CPU seconds, client CPU seconds) of one tool run; raise on a non-zero exit."""
    cpu0 = stats.cpu_s()
    cmd = [*_CLIENT_JVM, "-cp", classpath, *args]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise RuntimeError(f"{args[0]} timed out after {timeout_s}s") from None
    broker_cpu = stats.cpu_s() - cpu0
    # communicate() reaped the child; its CPU is in this process's children's rusage.
    client_cpu = _children_cpu_s()
    if child.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {child.returncode}: {err.strip()[-500:]}")
    return out, broker_cpu, client_cpu


_children_seen = 0.0


def _children_cpu_s() -> float:
    """CPU of children reaped since the last call (rusage of children only grows)."""
    global _children_seen
    t = os.times()
    total = t.children_user + t.children_system
    delta, _children_seen = total - _children_seen, total
    return delta


def producer_perf(
    classpath: str,
    stats: ProcStats,
    bootstrap: str,
    topic: str,
    *,
    count: int,
    size: int,
    props: dict[str, str],
) -> Sample:
    """`count` records of `size` random bytes as fast as the producer goes; every send must succeed.

    The first quarter warms the JVM up (--warmup-records): the rate and p99 are the tool's steady-state
    figures over the rest; the broker's CPU counts all `count` records.
    """
    _children_cpu_s()
    args = ["org.apache.kafka.tools.ProducerPerformance", "--bootstrap-server", bootstrap]
    args += ["--topic", topic, "--num-records", str(count), "--record-size", str(size), "--throughput", "-1"]
    args += ["--warmup-records", str(count // 4)]
    args += ["--command-property", *(f"{k}={v}" for k, v in props.items())]
    out, broker_cpu, client_cpu = _run(classpath, stats, args, 300)
    found = {bool(m["steady"]): m for m in _PRODUCER_SUMMARY.finditer(out)}
    if False not in found or True not in found or int(found[False]["sent"]) != count or "Exception" in out:
        raise RuntimeError(f"producer perf to {topic}: {out.strip()[-500:]}")
    summary = found[True]
    wall = count / float(summary["rate"])
    extra = {"producer p99 ms": float(summary["p99"])}
    return Sample(count, count * size, wall, broker_cpu, stats.rss_bytes(), client_cpu, 0.0, extra)


# "records=93750 seconds=2.104 failed=0 transactions=937"
_SEND_LOOP_SUMMARY = re.compile(
    r"records=(?P<records>\d+) seconds=(?P<seconds>[\d.]+) failed=(?P<failed>\d+)"
)
_SEND_LOOP_SOURCE = Path(__file__).resolve().parent / "java" / "TxnProducer.java"


def send_loop(
    classpath: str,
    stats: ProcStats,
    bootstrap: str,
    topic: str,
    *,
    count: int,
    size: int,
    per_transaction: int,
    props: dict[str, str],
) -> Sample:
    """`count` records of `size` bytes from bench/java/TxnProducer.java (run from source by the JDK's launcher),
    in transactions of `per_transaction` records, or plainly with 0: a transactional produce and its baseline
    from the same send loop. Its first quarter warms the JVM up; the rate is over the rest; the broker's CPU
    counts all `count` records (like producer_perf)."""
    _children_cpu_s()
    args = [str(_SEND_LOOP_SOURCE), bootstrap, topic, str(count), str(size), str(per_transaction)]
    args += [f"{k}={v}" for k, v in props.items()]
    out, broker_cpu, client_cpu = _run(classpath, stats, args, 300)
    found = _SEND_LOOP_SUMMARY.search(out)
    if found is None or int(found["failed"]):
        raise RuntimeError(f"send loop to {topic}: {out.strip()[-500:]}")
    records, seconds = int(found["records"]), float(found["seconds"])
    wall = count * seconds / records  # the timed part's rate, over all `count` like producer_perf's
    return Sample(count, count * size, wall, broker_cpu, stats.rss_bytes(), client_cpu, 0.0, {})


def consumer_perf(classpath: str, stats: ProcStats, bootstrap: str, topic: str, *, count: int) -> Sample:
    """Read `count` records from the start of `topic` in a fresh group; the rate is over fetching only."""
    _children_cpu_s()
    args = ["org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic", topic]
    args += ["--num-records", str(count), "--timeout", "60000", "--hide-header"]
    args += ["--group", f"bench-java-{topic}-{time.monotonic_ns()}"]
    out, broker_cpu, client_cpu = _run(classpath, stats, args, 300)
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
    # rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    fields = [f.strip() for f in out.strip().splitlines()[-1].split(",")]
    try:
        mb, messages, rebalance_ms, fetch_ms = (
            float(fields[2]),
            int(fields[4]),
            float(fields[6]),
            float(fields[7]),
        )
    except (IndexError, ValueError):
        raise RuntimeError(f"consumer perf on {topic}: {out.strip()[-500:]}") from None
    if messages < count:
        raise RuntimeError(f"consumer perf on {topic}: got {messages} of {count} records")
    extra = {"join ms": rebalance_ms}
    sample = Sample(messages, int(mb * 1024 * 1024), max(fetch_ms, 1.0) / 1000, broker_cpu, stats.rss_bytes())
    sample.client_cpu_s = client_cpu
    sample.extra = extra
    return sample
