"""brook side by side with a peer broker (Tansu 0.6.0, Rust, memory-only), as ratios from one run.

    python bench/run.py              # full: several A,B,B,A rounds, then the 1 GB RSS/restart check
    python bench/run.py --smoke      # seconds: tiny sizes, one round (CI)
    python bench/run.py --brokers brook --workloads produce-1k-a1-p1   # one figure while working

The machine is shared and noisy, so each broker gets a fresh process per session, sessions alternate
(A, B, B, A, ...) and the table shows medians and brook/peer ratios. Broker CPU per message comes
from the broker's own CPU clock (/proc/PID/stat), the least noisy figure here. Results are also
written to bench/results/<time>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import machine
import workloads
from brokers import BrookBroker, PeerBroker, install_peer
from workloads import Sample

MIB = 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Sizes:
    rounds: int
    count_1k: int
    count_100: int
    latency_rate: int
    latency_s: float
    gigabyte_bytes: int
    machine_bytes: int


FULL = Sizes(4, 125_000, 1_280_000, 5_000, 10.0, 1024 * MIB, 512 * MIB)
SMOKE = Sizes(1, 4_000, 20_000, 1_000, 1.0, 16 * MIB, 32 * MIB)


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Any, Sizes], Sample]


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

    return Workload(f"produce {'1KiB' if size == 1024 else f'{size}B'} acks={acks} p{partitions}", run)


def _consume(topic: str, label: str, partitions: int, count: Callable[[Sizes], int]) -> Workload:
    def run(broker: Any, sizes: Sizes) -> Sample:
        return workloads.consume(
            broker.bootstrap, broker.stats, topic, count=count(sizes), partitions=partitions
        )

    return Workload(f"consume {label} p{partitions}", run)


def _latency() -> Workload:
    def run(broker: Any, sizes: Sizes) -> Sample:
        workloads.create_topic(broker.bootstrap, "latency", 1)
        return workloads.latency(
            broker.bootstrap, broker.stats, "latency", rate=sizes.latency_rate, seconds=sizes.latency_s
        )

    return Workload("latency acks=all", run)


def _k(s: Sizes) -> int:
    return s.count_1k


def _h(s: Sizes) -> int:
    return s.count_100


# Consumes read the topics the produces before them wrote, so the order matters.
WORKLOADS = [
    _produce("p1k-a1-p1", 1024, 1, "1", _k),
    _produce("p1k-all-p1", 1024, 1, "all", _k),
    _produce("p1k-a1-p6", 1024, 6, "1", _k),
    _produce("p1k-all-p6", 1024, 6, "all", _k),
    _produce("p100-a1-p1", 100, 1, "1", _h),
    _consume("p1k-a1-p1", "1KiB", 1, _k),
    _consume("p1k-a1-p6", "1KiB", 6, _k),
    _consume("p100-a1-p1", "100B", 1, _h),
    _latency(),
]


def run_session(make_broker: Callable[[], Any], selected: list[Workload], sizes: Sizes) -> dict[str, Sample]:
    broker = make_broker().start()
    try:
        out = {}
        for w in selected:
            out[w.name] = w.run(broker, sizes)
            print(f"#   {broker.name:5} {w.name:28} {_brief(out[w.name])}", flush=True)  # noqa: T201
        return out
    finally:
        broker.close()


def _brief(s: Sample) -> str:
    text = f"{s.messages / s.wall_s:>12,.0f} msg/s {s.cpu_s * 1e6 / max(s.messages, 1):8.2f} cpu-us/msg"
    text += f"  broker {100 * s.cpu_s / s.wall_s:3.0f}% client {100 * s.client_cpu_s / s.wall_s:3.0f}% cpu"
    text += f" (busiest thread {100 * s.client_thread_s / s.wall_s:3.0f}%)"
    if "e2e_p50_ms" in s.extra:
        text += f"  e2e p50 {s.extra['e2e_p50_ms']:.2f} p99 {s.extra['e2e_p99_ms']:.2f} ms"
    return text


def gigabyte_check(make_broker: Callable[[], Any], sizes: Sizes, *, restart: bool) -> dict[str, float]:
    """Produce `gigabyte_bytes` of 1 KiB records; RSS after; then (brook) SIGKILL and time the restart."""
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
        return out
    finally:
        broker.close()


# --- the table -----------------------------------------------------------------------------------


def _figures(samples: list[Sample]) -> dict[str, float]:
    """Median per figure over a broker's sessions."""

    def med(f: Callable[[Sample], float]) -> float:
        return statistics.median(f(s) for s in samples)

    out = {
        "msg/s": med(lambda s: s.messages / s.wall_s),
        "MB/s": med(lambda s: s.bytes / s.wall_s / 1e6),
        "cpu us/msg": med(lambda s: s.cpu_s * 1e6 / max(s.messages, 1)),
        "rss MB": med(lambda s: s.rss_bytes / 1e6),
        # CPU the broker and the client used per wall second (1.0 = one core busy): who is the limit.
        "broker cpu %": med(lambda s: 100 * s.cpu_s / s.wall_s),
        "client cpu %": med(lambda s: 100 * s.client_cpu_s / s.wall_s),
        "client max thread %": med(lambda s: 100 * s.client_thread_s / s.wall_s),
    }
    for key in samples[0].extra:
        out[key] = med(lambda s, key=key: s.extra[key])  # type: ignore[misc]
    return out


def _row(cells: list[str]) -> str:
    widths = [30, 12] + [12] * (len(cells) - 2)
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def print_table(results: dict[str, dict[str, list[Sample]]]) -> dict[str, dict[str, dict[str, float]]]:
    medians: dict[str, dict[str, dict[str, float]]] = {}
    names = list(next(iter(results.values())))
    others = [n for n in ("peer", "base") if n in names and "brook" in names]
    print(_row(["workload", "figure", *names, *(f"brook/{n}" for n in others)]))  # noqa: T201
    for workload, by_broker in results.items():
        figs = {name: _figures(samples) for name, samples in by_broker.items() if samples}
        medians[workload] = figs
        first = True
        for figure in next(iter(figs.values())):
            values = [figs.get(n, {}).get(figure) for n in names]
            brook = figs.get("brook", {}).get(figure)
            ratios = [_ratio(brook, figs.get(n, {}).get(figure)) for n in others]
            print(_row([workload if first else "", figure, *map(_num, values), *ratios]))  # noqa: T201
            first = False
    return medians


def check_targets(medians: dict[str, Any], gigabyte: dict[str, dict[str, float]]) -> None:
    def ratio(workload: str, figure: str) -> float | None:
        figs = medians.get(workload, {})
        if "brook" not in figs or "peer" not in figs or not figs["peer"].get(figure):
            return None
        return float(figs["brook"][figure] / figs["peer"][figure])

    def brook(workload: str, figure: str) -> float | None:
        return medians.get(workload, {}).get("brook", {}).get(figure)

    targets = [
        ("produce 1KiB acks=1 p1 msg/s >= 1.5 x peer", ratio("produce 1KiB acks=1 p1", "msg/s"), 1.5, True),
        ("consume 1KiB p1 msg/s >= 1.5 x peer", ratio("consume 1KiB p1", "msg/s"), 1.5, True),
        ("consume 1KiB p6 msg/s >= 1.5 x peer", ratio("consume 1KiB p6", "msg/s"), 1.5, True),
        ("cpu/msg produce 1KiB <= 0.5 x peer", ratio("produce 1KiB acks=1 p1", "cpu us/msg"), 0.5, False),
        ("latency e2e p50 <= 5 ms", brook("latency acks=all", "e2e_p50_ms"), 5.0, False),
        ("latency e2e p99 <= 20 ms", brook("latency acks=all", "e2e_p99_ms"), 20.0, False),
        ("RSS after producing 1 GB <= 150 MB", gigabyte.get("brook", {}).get("rss_mb"), 150.0, False),
        ("ready after SIGKILL with 1 GB <= 5 s", gigabyte.get("brook", {}).get("restart_s"), 5.0, False),
    ]
    print("\ntarget                                          value   verdict")  # noqa: T201
    for label, value, bound, at_least in targets:
        if value is None:
            verdict = "n/a"
        else:
            verdict = "met" if (value >= bound if at_least else value <= bound) else "NOT met"
        print(f"{label:44} {_num(value):>9}   {verdict}")  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round (CI)")
    parser.add_argument("--rounds", type=int, help="A,B rounds (alternating order)")
    parser.add_argument("--brokers", default="brook,peer", help="comma-separated: brook, peer")
    parser.add_argument("--workloads", default="", help="comma-separated substrings of workload names")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply record counts (CPU clock ticks are 10 ms)"
    )
    parser.add_argument("--base-src", type=Path, help="also run brook from this src/ dir, as 'base'")
    parser.add_argument("--no-gigabyte", action="store_true", help="skip the 1 GB RSS/restart check")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.scale != 1.0:
        sizes = replace(
            sizes, count_1k=int(sizes.count_1k * args.scale), count_100=int(sizes.count_100 * args.scale)
        )
    rounds = args.rounds or sizes.rounds
    names = args.brokers.split(",")
    factories: dict[str, Callable[[], Any]] = {}
    if "brook" in names:
        factories["brook"] = BrookBroker
    if "peer" in names and (binary := install_peer()) is not None:
        factories["peer"] = lambda: PeerBroker(binary)
    if args.base_src is not None:
        factories["base"] = lambda: BrookBroker(args.base_src.resolve())
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    selected = [w for w in WORKLOADS if not wanted or any(x in w.name.replace(" ", "-") for x in wanted)]

    # Median of three each: the page cache's writeback makes single disk figures jump.
    limits = {
        "loopback TCP MB/s": statistics.median(machine.loopback_mb_s(sizes.machine_bytes) for _ in range(3)),
        "disk write MB/s (no fsync)": statistics.median(
            machine.disk_write_mb_s(sizes.machine_bytes, fsync=False) for _ in range(3)
        ),
        "disk write MB/s (fsync at end)": statistics.median(
            machine.disk_write_mb_s(sizes.machine_bytes, fsync=True) for _ in range(3)
        ),
    }
    for label, value in limits.items():
        print(f"# machine: {label:32} {value:10,.0f}")  # noqa: T201

    results: dict[str, dict[str, list[Sample]]] = {w.name: {n: [] for n in factories} for w in selected}
    order = list(factories)
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:  # A, B, B, A, ...
            print(f"# round {r + 1}/{rounds}: {name}", flush=True)  # noqa: T201
            for workload, sample in run_session(factories[name], selected, sizes).items():
                results[workload][name].append(sample)

    gigabyte: dict[str, dict[str, float]] = {}
    if not args.no_gigabyte and not wanted:
        for name, factory in factories.items():
            gigabyte[name] = gigabyte_check(factory, sizes, restart=name == "brook")
            print(f"# {name}: {sizes.gigabyte_bytes // MIB} MiB produced: {gigabyte[name]}", flush=True)  # noqa: T201

    print()  # noqa: T201
    medians = print_table(results)
    if gigabyte:
        print(f"\n{sizes.gigabyte_bytes // MIB} MiB of 1 KiB records, acks=1, 1 partition")  # noqa: T201
        for name, figs in gigabyte.items():
            print(f"  {name:5} " + "  ".join(f"{k} {_num(v)}" for k, v in figs.items()))  # noqa: T201
    if args.smoke:
        print("\n# smoke sizes: a check that everything runs, not figures to compare (run make bench)")  # noqa: T201
    check_targets(medians, gigabyte)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    raw = {w: {n: [asdict(s) for s in ss] for n, ss in by.items()} for w, by in results.items()}
    out.write_text(json.dumps({"limits": limits, "samples": raw, "gigabyte": gigabyte}, indent=1))
    print(f"\n# results: {out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
