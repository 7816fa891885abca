"""Wide workloads on one broker, brook against Apache Kafka: many partitions, many connections, a big group.

    python bench/scale_bench.py                                  # 1,000 and 10,000 partitions, 500, 50
    python bench/scale_bench.py --partitions 1000 --connections 100 --members 20

- partitions: create N partitions (topics of 1,000; time until every one has a leader), produce 1 KiB
  records round-robin over all of them [py], RSS and open files after, then the time from starting the broker
  again until every partition has a leader, after a clean stop (SIGTERM) and after kill -9.
- connections: N aiokafka producers (one connection each) send at a fixed total rate, open loop, acks=1;
  errors and the p99 of send->ack, against the same total rate from a single producer [aiokafka].
- members: N confluent-kafka consumers subscribe to one group on an N-partition topic (classic protocol,
  range assignor): seconds until every member holds one partition, then until the other N-1 hold all
  partitions again after one member leaves.
Each broker is a fresh process per scenario; the load average is recorded beside each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import confluent_kafka
import workloads
from aiokafka import AIOKafkaProducer
from brokers import BrookBroker
from kafka_broker import KafkaBroker, java_classpath

_STARTUP_TIMEOUT_S = 600.0


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
        out["start after clean stop s"] = restart_s(broker, topics, crash=False)
        out["start after kill -9 s"] = restart_s(broker, topics, crash=True)
        out["rss after restart MB"] = broker.stats.rss_bytes() / 1e6
        out["load avg"] = os.getloadavg()[0]
        return out
    finally:
        broker.close()


async def _send_at_rate(
    bootstrap: str, topic: str, producers: int, rate: int, seconds: float
) -> tuple[list[float], int]:
    clients = [AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0) for _ in range(producers)]
    await asyncio.gather(*(c.start() for c in clients))
    latencies: list[float] = []
    errors = 0
    per_client = rate / producers
    each = max(1, int(per_client * seconds))
    value = b"x" * 100

    async def run(index: int, client: AIOKafkaProducer) -> None:
        nonlocal errors
        pending = []
        await asyncio.sleep(index / rate)  # spread the clients' sends over the first interval
        start = time.perf_counter()
        for j in range(each):
            sent = time.perf_counter()
            future = await client.send(topic, value, partition=0)
            future.add_done_callback(lambda f, sent=sent: latencies.append(time.perf_counter() - sent))
            pending.append(future)
            await asyncio.sleep(max(0.0, start + (j + 1) / per_client - time.perf_counter()))
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


def connections_scenario(
    make: Callable[[], Any], producers: int, rate: int, seconds: float
) -> dict[str, float]:
    broker = make().start()
    try:
        workloads.create_topic(broker.bootstrap, "connections", 1)
        out: dict[str, float] = {}
        for label, n in (("1 producer", 1), (f"{producers} producers", producers)):
            cpu0 = broker.stats.cpu_s()
            latencies, errors = asyncio.run(_send_at_rate(broker.bootstrap, "connections", n, rate, seconds))
            out[f"{label} p50 ms"] = _p(latencies, 0.5)
            out[f"{label} p99 ms"] = _p(latencies, 0.99)
            out[f"{label} errors"] = errors + (n * max(1, int(rate / n * seconds)) - len(latencies))
            out[f"{label} broker cpu s"] = broker.stats.cpu_s() - cpu0
        out["rss MB"] = broker.stats.rss_bytes() / 1e6
        out["load avg"] = os.getloadavg()[0]
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
    parser.add_argument("--rate", type=int, default=1000, help="total msg/s of the connections scenario")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the connections scenario")
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
    scenarios: list[tuple[str, Callable[[Callable[[], Any]], dict[str, float]]]] = []
    for n in (int(x) for x in args.partitions.split(",") if x):
        scenarios.append((f"{n:,} partitions", lambda make, n=n: partitions_scenario(make, n)))
    if args.connections:
        scenarios.append(
            (
                f"{args.connections} producer connections, {args.rate} msg/s [aiokafka]",
                lambda make: connections_scenario(make, args.connections, args.rate, args.seconds),
            )
        )
    if args.members:
        scenarios.append(
            (f"{args.members}-member group [py]", lambda make: members_scenario(make, args.members))
        )
    table: dict[str, dict[str, dict[str, float]]] = {}
    for title, scenario in scenarios:
        for name, make in factories.items():
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
    print(f"{'scenario':44} {'figure':32} " + " ".join(f"{n:>10}" for n in names) + "  brook/kafka")  # noqa: T201
    for title, by_broker in table.items():
        keys = list(dict.fromkeys(k for figs in by_broker.values() for k in figs))
        for k, key in enumerate(keys):
            values = [by_broker.get(n, {}).get(key) for n in names]
            cells = " ".join(f"{v:>10,.2f}" if v is not None else f"{'-':>10}" for v in values)
            brook, kafka = by_broker.get("brook", {}).get(key), by_broker.get("kafka", {}).get(key)
            ratio = f"{brook / kafka:.2f}" if brook is not None and kafka else "-"
            print(f"{title if k == 0 else '':44} {key:32} {cells}  {ratio:>11}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
