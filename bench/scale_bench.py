"""Wide workloads on one broker, brook against Apache Kafka: many partitions, many connections, a big group.

    python bench/scale_bench.py                                  # 1,000 and 10,000 partitions, 500, 50
    python bench/scale_bench.py --partitions 1000 --connections 100 --members 20
    python bench/scale_bench.py --partitions "" --members 0 --connections-rounds 2   # 500 connections only

- partitions: create N partitions (topics of 1,000; time until every one has a leader), produce 1 KiB
  records round-robin over all of them [py], RSS and open files after, the longest the broker answered nothing
  while its metadata changed (metadata_change_stall_ms), then the time from starting the broker
  again until every partition has a leader, after a clean stop (SIGTERM) and after kill -9.
- connections: N producers, each its own client with its own connection, each sending one record of 100 B
  every 1/--rate s (default 2/s: 1,000 records/s from 500), open loop, acks=1, linger 0, no compression,
  no idempotence, for --seconds. At this per-connection rate every record is one Produce request, so a
  record's send->ack time (measured in the client) is one request's latency; p99 is over every record of the
  run. The baseline is one producer at the same per-connection rate for --baseline-seconds (120 requests at
  the defaults), and for reference one producer at the total rate. The load generator is bench/go (franz-go,
  one native process, `[go]`; `make bench` builds it) or, with --connections-client aiokafka, aiokafka
  producers in this Python process (`[aiokafka]`). Beside the client's view: brook's own (the Produce
  TotalTimeMs histogram of its request metrics over the same run, as a bucket bound), broker and client CPU,
  the client's send lag behind its schedule, and the load average.
- members: N confluent-kafka consumers subscribe to one group on an N-partition topic (classic protocol,
  range assignor): seconds until every member holds one partition, then until the other N-1 hold all
  partitions again after one member leaves.
Each broker is a fresh process per scenario; the load average is recorded beside each figure. Figures are
written to bench/results/<time>-scale.json, or $BENCH_RUN_DIR/scale.json (targets.py).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import confluent_kafka
import targets
import workloads
from aiokafka import AIOKafkaProducer
from brokers import BrookBroker
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
from kafka_broker import KafkaBroker, java_classpath
from native_latency import BROOKBENCH, run_gated

_STARTUP_TIMEOUT_S = 600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid(broker: Any) -> int:
    return broker.stats.pid


def open_files(broker: Any) -> int:
    return len(os.listdir(f"/proc/{_pid(broker)}/fd"))


def restart_s(broker: Any, topics: dict[str, int], *, crash: bool) -> float:
    """Stop (SIGTERM, waiting for the exit) or kill -9, start again: seconds until every partition has a leader."""
    if isinstance(broker, BrookBroker):
        broker.process.startup_timeout_s = _STARTUP_TIMEOUT_S
        if crash:
            broker.process.kill()
        else:
            broker.process.stop(timeout_s=_STARTUP_TIMEOUT_S)
    else:
        assert broker.process is not None
        # 120 s was not enough once at 10,000 partitions (bench/README's eighth round)
        broker.startup_timeout_s = _STARTUP_TIMEOUT_S
        broker.process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
        broker.process.wait(_STARTUP_TIMEOUT_S)
    start = time.perf_counter()
    broker.start()
    for topic, partitions in topics.items():
        workloads.wait_for_leaders(broker.bootstrap, topic, partitions, _STARTUP_TIMEOUT_S)
    return time.perf_counter() - start


# Kafka's controller refuses an operation of more than 10,000 metadata records ("excessively large batch
# operation"): a 10,000-partition topic cannot be created in one request, so N partitions are N/1,000
# topics of 1,000 partitions each, on both brokers.
PARTITIONS_PER_TOPIC = 1000


def partitions_scenario(make: Callable[[], Any], partitions: int) -> dict[str, float]:
    broker = make().start()
    try:
        topics = {
            f"wide-{partitions}-{i}": min(PARTITIONS_PER_TOPIC, partitions - i * PARTITIONS_PER_TOPIC)
            for i in range(-(-partitions // PARTITIONS_PER_TOPIC))
        }
        t0 = time.perf_counter()
        for topic, n in topics.items():
            workloads.create_topic(broker.bootstrap, topic, n, timeout_s=_STARTUP_TIMEOUT_S)
        out = {"create s": time.perf_counter() - t0}
        count = max(10 * partitions, 50_000)
        messages = cpu = wall = 0.0
        for topic, n in topics.items():
            sample = workloads.produce(
                broker.bootstrap,
                broker.stats,
                topic,
                count=count * n // partitions,
                size=1024,
                partitions=n,
                acks="1",
            )
            messages, cpu, wall = messages + sample.messages, cpu + sample.cpu_s, wall + sample.wall_s
        out["produce msg/s"] = messages / wall
        out["produce cpu us/msg"] = cpu * 1e6 / messages
        out["rss MB"] = broker.stats.rss_bytes() / 1e6
        out["open files"] = open_files(broker)
        out["metadata change stall ms"] = metadata_change_stall_ms(broker.bootstrap, next(iter(topics)))
        out["start after clean stop s"] = restart_s(broker, topics, crash=False)
        out["start after kill -9 s"] = restart_s(broker, topics, crash=True)
        out["rss after restart MB"] = broker.stats.rss_bytes() / 1e6
        out["load avg"] = os.getloadavg()[0]
        return out
    finally:
        broker.close()


# ApiVersions v0 (every broker answers it, from nothing but the header): 4-byte size, api key 18, version 0,
# correlation id 1, client id "stall-probe"
_PROBE = struct.pack(">ihhih", 21, 18, 0, 1, 11) + b"stall-probe"
_METADATA_CHANGES = 5


def metadata_change_stall_ms(bootstrap: str, topic: str) -> float:
    """The longest a broker answered nothing while its metadata changed: one connection sends ApiVersions
    back to back (1 ms apart) while 5 topics of one partition are created, one at a time, and then 5 times
    one config of `topic` is altered; its longest round trip is the figure. A broker that walks every
    partition it hosts on each change, on the thread that answers requests, shows it here."""
    host, port = bootstrap.rsplit(":", 1)
    probe = socket.create_connection((host, int(port)), timeout=30)
    longest = [0.0]
    failed: list[BaseException] = []
    stop = threading.Event()

    def receive(n: int) -> bytes:
        data = probe.recv(n)
        if not data:
            raise ConnectionError("the broker closed the stall probe's connection")
        return data

    def run() -> None:
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                probe.sendall(_PROBE)
                head = b""
                while len(head) < 4:
                    head += receive(4 - len(head))
                (left,) = struct.unpack(">i", head)
                while left:
                    left -= len(receive(left))
                longest[0] = max(longest[0], time.perf_counter() - t0)
                time.sleep(0.001)
        except OSError as exc:  # the figure would be the time until the connection went, not a stall
            failed.append(exc)

    admin = AdminClient({"bootstrap.servers": bootstrap})
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        longest[0] = 0.0
        stamp = int(time.time())
        for i in range(_METADATA_CHANGES):
            name = f"stall-{stamp}-{i}"
            admin.create_topics([NewTopic(name, 1, 1)])[name].result(60)
        resource = ConfigResource("topic", topic)
        for i in range(_METADATA_CHANGES):
            entry = ConfigEntry(
                "retention.ms", str(7 * 86_400_000 + i), incremental_operation=AlterConfigOpType.SET
            )
            admin.incremental_alter_configs([ConfigResource("topic", topic, incremental_configs=[entry])])[
                resource
            ].result(60)
        time.sleep(1.0)  # a change's work may run after its answer
    finally:
        stop.set()
        thread.join(30)
        probe.close()
    if failed:
        raise RuntimeError(f"stall probe failed: {failed[0]!r}")
    return longest[0] * 1000


# The native load generator (bench/go, franz-go; `make bench` builds it): one process, one goroutine and one
# client per producer, far from busy at these rates (its own CPU and send lag are reported beside each figure).
_VALUE_BYTES = 100


def _brookbench(
    bootstrap: str, producers: int, rate: float, seconds: float, before: Callable[[], None]
) -> dict:
    """Run the Go load generator: N producers, each one record of 100 B every 1/rate s (see bench/go/main.go).
    `before` runs once every producer is connected and warmed up, just before the timed sends."""
    args = ["-bootstrap", bootstrap, "-topic", "connections", "-producers", str(producers)]
    args += ["-rate", str(rate), "-seconds", str(seconds), "-size", str(_VALUE_BYTES)]
    return run_gated("producers", args, before, seconds + 300)


async def _aiokafka_at_rate(
    bootstrap: str, producers: int, rate: float, seconds: float
) -> tuple[list[float], int]:
    """The same open-loop workload from aiokafka producers, all in this one Python process."""
    clients = [AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0) for _ in range(producers)]
    await asyncio.gather(*(c.start() for c in clients))
    latencies: list[float] = []
    errors = 0
    each = max(1, int(rate * seconds))
    value = b"x" * _VALUE_BYTES

    async def run(index: int, client: AIOKafkaProducer) -> None:
        nonlocal errors
        pending = []
        await asyncio.sleep(index / producers / rate)  # spread the clients' sends over the first interval
        start = time.perf_counter()
        for j in range(each):
            sent = time.perf_counter()
            future = await client.send(topic="connections", value=value, partition=0)
            future.add_done_callback(lambda f, sent=sent: latencies.append(time.perf_counter() - sent))
            pending.append(future)
            await asyncio.sleep(max(0.0, start + (j + 1) / rate - time.perf_counter()))
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                errors += 1

    try:
        await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
    finally:
        await asyncio.gather(*(c.stop() for c in clients), return_exceptions=True)
    return latencies, errors


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def produce_histogram(metrics_port: int) -> dict[float, float]:
    """brook's own view: the cumulative Produce TotalTimeMs buckets (le ms -> count) from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as page:
        text = page.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("kafka_network_requestmetrics_totaltimems_bucket") and 'request="Produce"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(le)] = float(line.rsplit(" ", 1)[1])
    return buckets


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound (ms) of the bucket holding quantile q of what was observed between two scrapes."""
    total = after.get(math.inf, 0.0) - before.get(math.inf, 0.0)
    for le in sorted(after):
        if total and after[le] - before.get(le, 0.0) >= q * total:
            return le
    return math.nan


def pressure_us() -> dict[str, int]:
    """The kernel's pressure stall totals (PSI, microseconds): how long tasks waited for a CPU ("cpu some")
    and how long every running task waited for I/O ("io full"); empty where /proc/pressure is missing."""
    out: dict[str, int] = {}
    for resource, kind in (("cpu", "some"), ("io", "some"), ("io", "full")):
        try:
            with open(f"/proc/pressure/{resource}") as f:
                for line in f:
                    if line.startswith(kind):
                        out[f"{resource} {kind}"] = int(line.rsplit("total=", 1)[1])
        except OSError:
            continue
    return out


def _one_run(
    broker: Any, client: str, producers: int, rate: float, seconds: float, metrics_port: int | None
) -> dict[str, float]:
    """One timed run: latency percentiles (ms) of send->ack, errors, CPU of broker and load generator."""
    seen: dict[str, Any] = {}

    def before() -> None:
        seen["pressure"], seen["t0"] = pressure_us(), time.perf_counter()
        seen["cpu"] = broker.stats.cpu_s()
        seen["hist"] = produce_histogram(metrics_port) if metrics_port is not None else None

    out: dict[str, float] = {}
    if client == "go":
        report = _brookbench(broker.bootstrap, producers, rate, seconds, before)
        latency = report["latency_ms"]
        out.update({f"{k} ms": latency.get(k, math.nan) for k in ("p50", "p99", "p999")})
        out["errors"] = report["errors"] + (report["sent"] - report["acked"] - report["errors"])
        out["client send lag p99 ms"] = report["send_lag_ms"].get("p99", math.nan)
        out["client Produce call p99 ms"] = report["produce_call_ms"].get("p99", math.nan)
        worst = ", ".join(f"{ms:.0f}" for ms in report["worst_ms_by_second"])
        print(f"#   {producers} x {rate:g}/s: slowest ack of each second, ms: {worst}", flush=True)  # noqa: T201
        out["client cpu %"] = 100 * report["cpu_s"] / report["wall_s"]
    else:
        before()
        latencies, errors = asyncio.run(_aiokafka_at_rate(broker.bootstrap, producers, rate, seconds))
        out.update(
            {"p50 ms": _p(latencies, 0.5), "p99 ms": _p(latencies, 0.99), "p999 ms": _p(latencies, 0.999)}
        )
        out["errors"] = errors + (producers * max(1, int(rate * seconds)) - len(latencies) - errors)
    out["broker cpu %"] = 100 * (broker.stats.cpu_s() - seen["cpu"]) / seconds
    window_us = (time.perf_counter() - seen["t0"]) * 1e6
    for kind, total in pressure_us().items():  # % of the run some task waited for a CPU, or all for I/O
        out[f"machine {kind} stall %"] = 100 * (total - seen["pressure"].get(kind, total)) / window_us
    if seen["hist"] is not None and metrics_port is not None:
        after = produce_histogram(metrics_port)
        out["broker's own p50 <= ms"] = bucket_quantile(seen["hist"], after, 0.5)
        out["broker's own p99 <= ms"] = bucket_quantile(seen["hist"], after, 0.99)
    out["load avg"] = os.getloadavg()[0]
    return out


def connections_scenario(
    make: Callable[[], Any],
    producers: int,
    rate: float,
    seconds: float,
    *,
    client: str = "go",
    baseline_seconds: float = 60.0,
) -> dict[str, float]:
    """N producers at `rate` records/s each, against the baseline: one producer at the same per-connection
    rate (for `baseline_seconds`, so its p99 rests on enough requests), and one producer at the total rate."""
    broker = make()
    metrics_port = None
    if isinstance(broker, BrookBroker):  # its request metrics: the broker's own view of the same requests
        metrics_port = _free_port()
        broker.process.overrides["brook.metrics.port"] = str(metrics_port)
    broker.start()
    try:
        workloads.create_topic(broker.bootstrap, "connections", 1)
        out: dict[str, float] = {"load avg at start": os.getloadavg()[0]}
        runs = (
            ("1 producer", 1, rate, baseline_seconds),
            (f"{producers} producers", producers, rate, seconds),
            ("1 producer at the total rate", 1, rate * producers, seconds),
        )
        for label, n, each_rate, length in runs:
            for key, value in _one_run(broker, client, n, each_rate, length, metrics_port).items():
                out[f"{label}: {key}"] = value
        out["p99 N / 1 producer"] = out[f"{producers} producers: p99 ms"] / out["1 producer: p99 ms"]
        out["rss MB"] = broker.stats.rss_bytes() / 1e6
        return out
    finally:
        broker.close()


def members_scenario(make: Callable[[], Any], members: int) -> dict[str, float]:
    broker = make().start()
    consumers: list[confluent_kafka.Consumer] = []
    try:
        topic = "rebalance"
        workloads.create_topic(broker.bootstrap, topic, members)
        held: dict[int, set[int]] = {}
        assigned_at: dict[int, float] = {}

        def callbacks(i: int) -> tuple[Callable[..., None], Callable[..., None]]:
            def on_assign(_c: object, parts: list[confluent_kafka.TopicPartition]) -> None:
                held[i] = {p.partition for p in parts}
                assigned_at[i] = time.perf_counter()

            def on_revoke(_c: object, _parts: object) -> None:
                held[i] = set()

            return on_assign, on_revoke

        t0 = time.perf_counter()
        for i in range(members):
            consumer = confluent_kafka.Consumer(
                {
                    "bootstrap.servers": broker.bootstrap,
                    "group.id": "bench-rebalance",
                    "partition.assignment.strategy": "range",
                    "enable.auto.commit": False,
                }
            )
            on_assign, on_revoke = callbacks(i)
            consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
            consumers.append(consumer)

        def poll_until(live: range, done: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 300
            while not done():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"group not stable: {sorted(len(held.get(i, ())) for i in live)}")
                for i in live:
                    consumers[i].poll(0)
                time.sleep(0.001)

        everyone = range(members)
        poll_until(everyone, lambda: all(len(held.get(i, ())) == 1 for i in everyone))
        out = {f"{members} members join s": time.perf_counter() - t0}
        rest = range(1, members)
        left = time.perf_counter()
        consumers[0].close()
        poll_until(
            rest,
            lambda: (
                all(assigned_at.get(i, 0) > left for i in rest)
                and set().union(*(held.get(i, set()) for i in rest)) == set(range(members))
            ),
        )
        out["rebalance after 1 leaves s"] = time.perf_counter() - left
        out["load avg"] = os.getloadavg()[0]
        return out
    finally:
        for consumer in consumers[1:]:
            consumer.close()
        broker.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partitions", default="1000,10000", help="comma-separated partition counts")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument(
        "--rate", type=float, default=2.0, help="records/s of each producer (connections scenario)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the N-producer run")
    parser.add_argument(
        "--baseline-seconds", type=float, default=60.0, help="length of the one-producer run at the same rate"
    )
    parser.add_argument(
        "--connections-client",
        choices=("go", "aiokafka"),
        default="go",
        help="load generator: franz-go (bench/go, built by make bench) or aiokafka in this process",
    )
    parser.add_argument(
        "--connections-rounds", type=int, default=1, help="interleaved rounds of the connections scenario"
    )
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--brokers", default="brook,kafka")
    args = parser.parse_args(argv)
    classpath = java_classpath()
    factories: dict[str, Callable[[], Any]] = {}
    for name in args.brokers.split(","):
        if name == "brook":
            factories["brook"] = BrookBroker
        elif name == "kafka" and classpath is not None:
            factories["kafka"] = lambda: KafkaBroker(classpath)
    # (title, scenario, brokers in reverse order, what it is for the results file): rounds of one scenario
    # alternate the order (A,B,B,A)
    scenarios: list[tuple[str, Callable[[Callable[[], Any]], dict[str, float]], bool, dict[str, Any]]] = []
    for n in (int(x) for x in args.partitions.split(",") if x):
        meta = {"kind": "partitions", "size": n, "client": "py"}
        scenarios.append(
            (f"{n:,} partitions [py]", lambda make, n=n: partitions_scenario(make, n), False, meta)
        )
    if args.connections:
        client = args.connections_client
        if client == "go" and not BROOKBENCH.exists():
            print(f"# {BROOKBENCH} not built (make build/go/bin/brookbench): using aiokafka")  # noqa: T201
            client = "aiokafka"
        for r in range(args.connections_rounds):
            scenarios.append(
                (
                    f"{args.connections} producer connections, {args.rate:g} msg/s each [{client}]"
                    + (f" round {r + 1}" if args.connections_rounds > 1 else ""),
                    lambda make: connections_scenario(
                        make,
                        args.connections,
                        args.rate,
                        args.seconds,
                        client=client,
                        baseline_seconds=args.baseline_seconds,
                    ),
                    r % 2 == 1,
                    {"kind": "connections", "size": args.connections, "client": client, "round": r + 1},
                )
            )
    if args.members:
        meta = {"kind": "members", "size": args.members, "client": "py"}
        scenarios.append(
            (
                f"{args.members}-member group [py]",
                lambda make: members_scenario(make, args.members),
                False,
                meta,
            )
        )
    table: dict[str, dict[str, dict[str, float]]] = {}
    for title, scenario, reverse, _meta in scenarios:
        for name, make in reversed(factories.items()) if reverse else factories.items():
            print(f"# {title}: {name} (load average {os.getloadavg()[0]:.2f})", flush=True)  # noqa: T201
            try:
                figures = scenario(make)
            except (RuntimeError, OSError, confluent_kafka.KafkaException) as exc:
                print(f"#   FAILED: {str(exc)[:300]}", flush=True)  # noqa: T201
                continue
            table.setdefault(title, {})[name] = figures
            print(f"#   {figures}", flush=True)  # noqa: T201
    names = list(factories)
    print()  # noqa: T201
    print(f"{'scenario':60} {'figure':52} " + " ".join(f"{n:>10}" for n in names) + "  brook/kafka")  # noqa: T201
    for title, by_broker in table.items():
        keys = list(dict.fromkeys(k for figs in by_broker.values() for k in figs))
        for k, key in enumerate(keys):
            values = [by_broker.get(n, {}).get(key) for n in names]
            cells = " ".join(f"{v:>10,.2f}" if v is not None else f"{'-':>10}" for v in values)
            brook, kafka = by_broker.get("brook", {}).get(key), by_broker.get("kafka", {}).get(key)
            ratio = f"{brook / kafka:.2f}" if brook is not None and kafka else "-"
            print(f"{title if k == 0 else '':60} {key:52} {cells}  {ratio:>11}")  # noqa: T201
    found = [{"title": t, **meta, "brokers": table.get(t, {})} for t, _s, _r, meta in scenarios]
    out = targets.write_results("scale", {"args": vars(args), "scenarios": found})
    print(f"\n# results: {out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
