"""brook side by side with Apache Kafka 4.x (JVM, KRaft, on disk) and Tansu 0.6.0 (Rust, memory-only).

    python bench/run.py              # full: several A,B,C,C,B,A rounds, then the 1 GB RSS/restart check
    python bench/run.py --smoke      # seconds: tiny sizes, one round, brook and Tansu only (CI)
    python bench/run.py --brokers brook,kafka --workloads produce-1KiB --rounds 1 --scale 0.2

The machine is shared and noisy, so each broker gets a fresh process per session, sessions alternate
(A, B, C, C, B, A, ...) and the table shows medians and brook/peer ratios; the load average is recorded
beside every session. Broker CPU per message comes from the broker's own CPU clock (/proc/PID/stat),
the least noisy figure here. Every workload names its client: [py] is confluent-kafka (librdkafka)
driven from Python, [java] Kafka's own ProducerPerformance/ConsumerPerformance (java_perf.py), [go] the
native load generator bench/go (franz-go; native_latency.py; left out until `make bench` built it). Kafka
needs `make bench` (it fetches the jars); without them it and the [java] workloads are left out.
Results are also written to bench/results/<time>-run.json, or $BENCH_RUN_DIR/run.json (targets.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import confluent_kafka
import java_perf
import machine
import native_latency
import report
import targets
import workloads
from brokers import PEER_PACKAGE, BrookBroker, PeerBroker, install_peer
from kafka_broker import JVM_OPTS, KAFKA_VERSION, SETTINGS, KafkaBroker, java_classpath
from workloads import Sample

MIB = 1024 * 1024
CLASSPATH = java_classpath()


@dataclass(frozen=True)
class Sizes:
    rounds: int
    count_1k: int  # 1 KiB records per Java-tool workload and per transactional or idempotent produce
    count_100: int
    latency_s: float
    gigabyte_bytes: int
    machine_bytes: int
    # 1 KiB records per plain produce and consume from librdkafka: at 150,000-700,000 msg/s, 125,000 records
    # were over in 0.2-0.8 s, where one scheduling stall moved the rate by 2x and the CPU clock's 10 ms ticks
    # the CPU per message by 5-10 %; 500,000 run for 0.7-3.3 s.
    count_1k_py: int


FULL = Sizes(4, 125_000, 1_280_000, 10.0, 1024 * MIB, 512 * MIB, 500_000)
SMOKE = Sizes(1, 4_000, 20_000, 1.0, 16 * MIB, 32 * MIB, 4_000)


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Any, Sizes], Sample]
    java: bool = False


def _label(size: int) -> str:
    return "1KiB" if size == 1024 else f"{size}B"


def _produce(topic: str, size: int, partitions: int, acks: str, count: Callable[[Sizes], int]) -> Workload:
    def run(broker: Any, sizes: Sizes) -> Sample:
        workloads.create_topic(broker.bootstrap, topic, partitions)
        return workloads.produce(
            broker.bootstrap,
            broker.stats,
            topic,
            count=count(sizes),
            size=size,
            partitions=partitions,
            acks=acks,
        )

    return Workload(f"produce {_label(size)} acks={acks} p{partitions} [py]", run)


def _produce_idempotent(topic: str, size: int, count: Callable[[Sizes], int]) -> Workload:
    """acks=all with idempotence: with acks=1 (`_produce`), a baseline of the transactional produce below, the
    same records to one partition (report.TXN_BASELINES)."""

    def run(broker: Any, sizes: Sizes) -> Sample:
        workloads.create_topic(broker.bootstrap, topic, 1)
        return workloads.produce(
            broker.bootstrap,
            broker.stats,
            topic,
            count=count(sizes),
            size=size,
            partitions=1,
            acks="all",
            idempotent=True,
        )

    return Workload(f"produce {_label(size)} idempotent p1 [py]", run)


def _produce_transactional(topic: str, size: int, per_txn: int, count: Callable[[Sizes], int]) -> Workload:
    def run(broker: Any, sizes: Sizes) -> Sample:
        workloads.create_topic(broker.bootstrap, topic, 1)
        return workloads.produce_transactional(
            broker.bootstrap,
            broker.stats,
            topic,
            count=count(sizes),
            size=size,
            partitions=1,
            per_transaction=per_txn,
            transactional_id=f"bench-{topic}",
        )

    return Workload(f"produce {_label(size)} transactional {per_txn}/txn p1 [py]", run)


def _consume(topic: str, label: str, partitions: int, count: Callable[[Sizes], int]) -> Workload:
    def run(broker: Any, sizes: Sizes) -> Sample:
        return workloads.consume(
            broker.bootstrap, broker.stats, topic, count=count(sizes), partitions=partitions
        )

    return Workload(f"consume {label} p{partitions} [py]", run)


def _latency(rate: int) -> Workload:
    def run(broker: Any, sizes: Sizes) -> Sample:
        topic = f"latency-{rate}"
        workloads.create_topic(broker.bootstrap, topic, 1)
        return workloads.latency(broker.bootstrap, broker.stats, topic, rate=rate, seconds=sizes.latency_s)

    return Workload(f"latency {rate // 1000}k/s acks=all [py]", run)


def _latency_go(rate: int) -> Workload:
    """The same from the native load generator (bench/native_latency.py; left out until `make bench` built it)."""

    def run(broker: Any, sizes: Sizes) -> Sample:
        topic = f"latency-go-{rate}"
        workloads.create_topic(broker.bootstrap, topic, 1)
        return native_latency.latency(
            broker.bootstrap,
            broker.stats,
            topic,
            rate=rate,
            seconds=sizes.latency_s,
            client_args=getattr(broker, "go_client_args", ()),
        )

    return Workload(f"latency {rate // 1000}k/s acks=all [go]", run)


# The Java producer's settings per variant; everything else is the client's default (linger.ms=5,
# batch.size=16384). The Java client turns idempotence on by default, so the plain ones turn it off.
JAVA_PRODUCERS = {
    "acks=1": {"acks": "1", "enable.idempotence": "false"},
    "acks=all": {"acks": "all", "enable.idempotence": "false"},
    "idempotent": {"acks": "all", "enable.idempotence": "true"},
    "lz4": {"acks": "1", "enable.idempotence": "false", "compression.type": "lz4"},
    "zstd": {"acks": "1", "enable.idempotence": "false", "compression.type": "zstd"},
}


def _java_topic(size: int, variant: str) -> str:
    return f"java-{size}-{variant.replace('=', '')}"


def _java_produce(size: int, variant: str, count: Callable[[Sizes], int]) -> Workload:
    topic = _java_topic(size, variant)

    def run(broker: Any, sizes: Sizes) -> Sample:
        assert CLASSPATH is not None
        workloads.create_topic(broker.bootstrap, topic, 1)
        props = dict(JAVA_PRODUCERS[variant])
        return java_perf.producer_perf(
            CLASSPATH, broker.stats, broker.bootstrap, topic, count=count(sizes), size=size, props=props
        )

    return Workload(f"produce {_label(size)} {variant} p1 [java]", run, java=True)


def _java_send_loop(variant: str, per_txn: int) -> Workload:
    """The transactional produce and its baselines from the Java client's plain send loop
    (bench/java/TxnProducer.java): `per_txn` records per transaction, or none with 0 (the `variant`'s
    settings: acks=1, or idempotent acks=all). Issue 14's ratio from a client without librdkafka's serial
    transaction steps (report.transaction_ratios)."""
    topic = f"java-loop-{variant.replace('=', '')}-{per_txn}"

    def run(broker: Any, sizes: Sizes) -> Sample:
        assert CLASSPATH is not None
        workloads.create_topic(broker.bootstrap, topic, 1)
        # 1 MiB batches as the [py] produces have: at the Java client's default 16 KiB the plain loop is bound by
        # 5 batches in flight a round trip (~60,000 msg/s against ~280,000), which would flatter the ratio
        props = dict(JAVA_PRODUCERS[variant]) | {"batch.size": str(MIB)}
        return java_perf.send_loop(
            CLASSPATH,
            broker.stats,
            broker.bootstrap,
            topic,
            count=sizes.count_1k,
            size=1024,
            per_transaction=per_txn,
            props=props,
        )

    kind = f"transactional {per_txn}/txn" if per_txn else variant
    return Workload(f"produce 1KiB {kind} p1 [java-loop]", run, java=True)


def _java_consume(size: int, count: Callable[[Sizes], int]) -> Workload:
    topic = _java_topic(size, "acks=1")

    def run(broker: Any, sizes: Sizes) -> Sample:
        assert CLASSPATH is not None
        return java_perf.consumer_perf(CLASSPATH, broker.stats, broker.bootstrap, topic, count=count(sizes))

    return Workload(f"consume {_label(size)} p1 [java]", run, java=True)


def _k(s: Sizes) -> int:
    return s.count_1k


def _h(s: Sizes) -> int:
    return s.count_100


def _kpy(s: Sizes) -> int:
    return s.count_1k_py


# Consumes read the topics the produces before them wrote, so the order matters.
WORKLOADS = [
    *(_java_produce(1024, variant, _k) for variant in JAVA_PRODUCERS),
    *(_java_produce(100, variant, _h) for variant in JAVA_PRODUCERS),
    _java_consume(1024, _k),
    _java_consume(100, _h),
    _produce("p1k-a1-p1", 1024, 1, "1", _kpy),
    _produce("p1k-all-p1", 1024, 1, "all", _kpy),
    _produce("p1k-a1-p6", 1024, 6, "1", _kpy),
    _produce("p1k-all-p6", 1024, 6, "all", _kpy),
    _produce("p100-a1-p1", 100, 1, "1", _h),
    _produce_idempotent("p1k-idem-p1", 1024, _k),
    _produce_transactional("p1k-txn1000-p1", 1024, 1000, _k),
    _produce_transactional("p1k-txn100-p1", 1024, 100, _k),
    _java_send_loop("acks=1", 0),
    _java_send_loop("idempotent", 0),
    _java_send_loop("idempotent", 100),
    _consume("p1k-a1-p1", "1KiB", 1, _kpy),
    _consume("p1k-a1-p6", "1KiB", 6, _kpy),
    _consume("p100-a1-p1", "100B", 1, _h),
    _latency(1_000),
    _latency(10_000),
    _latency_go(1_000),
    _latency_go(10_000),
]


# What a workload raises when a broker fails it: its client's error, a tool's exit, a timeout.
WORKLOAD_ERRORS = (RuntimeError, OSError, ValueError, confluent_kafka.KafkaException)


def load_average() -> float:
    return os.getloadavg()[0]


def run_session(make_broker: Callable[[], Any], selected: list[Workload], sizes: Sizes) -> dict[str, Sample]:
    """One fresh broker, every selected workload in order; a workload that fails is reported and left out."""
    broker = make_broker().start()
    try:
        out = {}
        for w in selected:
            if w.java and not getattr(broker, "java_client", True):
                continue
            try:
                out[w.name] = w.run(broker, sizes)
            except WORKLOAD_ERRORS as exc:  # a peer without a feature (Tansu) must not end the run
                print(f"#   {broker.name:5} {w.name:36} FAILED: {str(exc)[:300]}", flush=True)  # noqa: T201
                continue
            out[w.name].extra["load avg"] = load_average()
            print(f"#   {broker.name:5} {w.name:36} {_brief(out[w.name])}", flush=True)  # noqa: T201
        return out
    finally:
        broker.close()


def _brief(s: Sample) -> str:
    text = f"{s.messages / s.wall_s:>12,.0f} msg/s {s.cpu_s * 1e6 / max(s.messages, 1):8.2f} cpu-us/msg"
    text += f"  broker {100 * s.cpu_s / s.wall_s:3.0f}% client {100 * s.client_cpu_s / s.wall_s:3.0f}% cpu"
    if s.client_thread_s:
        text += f" (busiest thread {100 * s.client_thread_s / s.wall_s:3.0f}%)"
    if "e2e_p50_ms" in s.extra:
        text += f"  e2e p50 {s.extra['e2e_p50_ms']:.2f} p99 {s.extra['e2e_p99_ms']:.2f} ms"
    return text + f"  load {load_average():.1f}"


def gigabyte_check(make_broker: Callable[[], Any], sizes: Sizes, *, restart: bool) -> dict[str, float]:
    """Produce `gigabyte_bytes` of 1 KiB records; RSS after; then SIGKILL and time the restart."""
    broker = make_broker().start()
    try:
        workloads.create_topic(broker.bootstrap, "gigabyte", 1)
        count = sizes.gigabyte_bytes // 1024
        sample = workloads.produce(
            broker.bootstrap, broker.stats, "gigabyte", count=count, size=1024, partitions=1, acks="1"
        )
        out = {"rss_mb": sample.rss_bytes / 1e6, "msg_s": sample.messages / sample.wall_s}
        if restart:
            out["restart_s"] = broker.restart_after_kill()
            out["rss_after_restart_mb"] = broker.stats.rss_bytes() / 1e6
        out["load_avg"] = load_average()
        return out
    finally:
        broker.close()


def describe_brokers(names: list[str]) -> dict[str, str]:
    """Each broker's version and settings, for the output and the results file."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    out = {
        "brook": f"brook {rev.stdout.strip() or '?'} (this tree; data on disk, default settings, "
        "group.initial.rebalance.delay.ms=0)",
        "kafka": f"Apache Kafka {KAFKA_VERSION} (kafka_2.13 jars, KRaft combined broker+controller, data on "
        f"disk, Kafka defaults except {', '.join(f'{k}={v}' for k, v in SETTINGS.items())}; "
        f"JVM {' '.join(JVM_OPTS)})",
        "tansu": f"Tansu 0.6.0 (PyPI {PEER_PACKAGE}, memory://, its defaults)",
        "base": "brook from --base-src",
    }
    return {n: out[n] for n in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round, brook and tansu (CI)")
    parser.add_argument("--rounds", type=int, help="A,B,C rounds (alternating order)")
    parser.add_argument(
        "--brokers", help="comma-separated: brook, kafka, tansu (default all; smoke: brook,tansu)"
    )
    parser.add_argument("--workloads", default="", help="comma-separated substrings of workload names")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply record counts (CPU clock ticks are 10 ms)"
    )
    parser.add_argument("--latency-s", type=float, help="seconds per fixed-rate latency run")
    parser.add_argument("--base-src", type=Path, help="also run brook from this src/ dir, as 'base'")
    parser.add_argument("--no-gigabyte", action="store_true", help="skip the 1 GB RSS/restart check")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.scale != 1.0:
        sizes = replace(
            sizes,
            count_1k=int(sizes.count_1k * args.scale),
            count_100=int(sizes.count_100 * args.scale),
            count_1k_py=int(sizes.count_1k_py * args.scale),
        )
    if args.latency_s:
        sizes = replace(sizes, latency_s=args.latency_s)
    rounds = args.rounds or sizes.rounds
    names = (args.brokers or ("brook,tansu" if args.smoke else "brook,kafka,tansu")).split(",")
    factories: dict[str, Callable[[], Any]] = {}
    if "brook" in names:
        factories["brook"] = BrookBroker
    if "kafka" in names:
        if CLASSPATH is None:
            print("# kafka: no jars in build/bench-kafka (run `make bench`); left out")  # noqa: T201
        else:
            factories["kafka"] = lambda: KafkaBroker(CLASSPATH)
    if "tansu" in names and (binary := install_peer()) is not None:
        factories["tansu"] = lambda: PeerBroker(binary)
    if args.base_src is not None:
        factories["base"] = lambda: BrookBroker(args.base_src.resolve())
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    selected = [w for w in WORKLOADS if not wanted or any(x in w.name.replace(" ", "-") for x in wanted)]
    if CLASSPATH is None or args.smoke:  # the smoke run (make test) never needs Kafka's jars
        selected = [w for w in selected if not w.java]
    if not native_latency.BROOKBENCH.exists():
        selected = [w for w in selected if not w.name.endswith("[go]")]
    brokers = describe_brokers(list(factories))
    for name, text in brokers.items():
        print(f"# {name}: {text}")  # noqa: T201
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# load average at start: {loads} on {os.cpu_count()} cores")  # noqa: T201

    limits = machine.limits(sizes.machine_bytes)
    for label, value in limits.items():
        print(f"# machine: {label:32} {value:10,.0f}")  # noqa: T201

    results: dict[str, dict[str, list[Sample]]] = {w.name: {n: [] for n in factories} for w in selected}
    order = list(factories)
    sessions = []
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:  # A, B, C, C, B, A, ...
            load = load_average()
            print(f"# round {r + 1}/{rounds}: {name} (load average {load:.2f})", flush=True)  # noqa: T201
            for workload, sample in run_session(factories[name], selected, sizes).items():
                results[workload][name].append(sample)
            sessions.append(
                {"round": r + 1, "broker": name, "load_avg_start": load, "load_avg_end": load_average()}
            )

    gigabyte: dict[str, dict[str, float]] = {}
    if not args.no_gigabyte and not wanted:
        for name, factory in factories.items():
            gigabyte[name] = gigabyte_check(factory, sizes, restart=name in ("brook", "kafka"))
            print(f"# {name}: {sizes.gigabyte_bytes // MIB} MiB produced: {gigabyte[name]}", flush=True)  # noqa: T201

    print()  # noqa: T201
    medians = report.print_table(results, list(factories))
    txn_ratios = report.transaction_ratios(results, list(factories))
    report.print_transaction_ratios(txn_ratios)
    if gigabyte:
        print(f"\n{sizes.gigabyte_bytes // MIB} MiB of 1 KiB records, acks=1, 1 partition [py]")  # noqa: T201
        for name, figs in gigabyte.items():
            print(f"  {name:5} " + "  ".join(f"{k} {report.num(v)}" for k, v in figs.items()))  # noqa: T201
    if args.smoke:
        print("\n# smoke sizes: a check that everything runs, not figures to compare (run make bench)")  # noqa: T201
    report.check_targets(medians, gigabyte, txn_ratios)
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # noqa: T201
    raw = report.samples_as_dicts(results)
    doc = {
        "brokers": brokers,
        "limits": limits,
        "sessions": sessions,
        "samples": raw,
        "gigabyte": gigabyte,
        "transactional_over_plain": txn_ratios,
    }
    out = targets.write_results("run", doc)
    print(f"\n# results: {out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
