"""The benchmark's table (medians per broker, brook/peer ratios) and its targets."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from targets import TXN_RATIOS
from workloads import Sample

__all__ = [
    "check_targets",
    "print_table",
    "print_transaction_ratios",
    "samples_as_dicts",
    "transaction_ratios",
]

PEERS = ("kafka", "tansu", "base")

# Issue 14's throughput criterion: transactional produce of 100 records per transaction against plain
# (non-transactional) produce of 1 KiB records to one partition from the same client's send loop on the same
# broker (targets.TXN_RATIOS; the [py] acks=1 run has 4x the records of the others, run.Sizes.count_1k_py: it
# is 5-10x faster). Each session runs them back to back on one broker process: the ratio is taken per session,
# then the median over the sessions.


def samples_as_dicts(
    results: dict[str, dict[str, list[Sample]]],
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{workload: {broker: [sample as a dict]}}: the samples as a results file holds them (targets.py reads them)."""
    return {w: {n: [asdict(s) for s in ss] for n, ss in by.items()} for w, by in results.items()}


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
    }
    if any(s.client_thread_s for s in samples):
        out["client max thread %"] = med(lambda s: 100 * s.client_thread_s / s.wall_s)
    for key in samples[0].extra:
        out[key] = med(lambda s, key=key: s.extra.get(key, float("nan")))  # type: ignore[misc]
    return out


def _row(cells: list[str]) -> str:
    widths = [36, 19] + [11] * (len(cells) - 2)
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def print_table(
    results: dict[str, dict[str, list[Sample]]], names: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    medians: dict[str, dict[str, dict[str, float]]] = {}
    others = [n for n in PEERS if n in names and "brook" in names]
    print(_row(["workload [client]", "figure", *names, *(f"brook/{n}" for n in others)]))  # noqa: T201
    for workload, by_broker in results.items():
        figs = {name: _figures(samples) for name, samples in by_broker.items() if samples}
        medians[workload] = figs
        if not figs:
            print(_row([workload, "(failed)", *("-" for _ in names), *("-" for _ in others)]))  # noqa: T201
            continue
        first = True
        keys = list(dict.fromkeys(k for f in figs.values() for k in f))
        for figure in keys:
            values = [figs.get(n, {}).get(figure) for n in names]
            brook = figs.get("brook", {}).get(figure)
            ratios = [_ratio(brook, figs.get(n, {}).get(figure)) for n in others]
            print(_row([workload if first else "", figure, *map(num, values), *ratios]))  # noqa: T201
            first = False
    return medians


def transaction_ratios(
    results: dict[str, dict[str, list[Sample]]], names: list[str]
) -> dict[str, dict[str, float]]:
    """{label: {broker: median over sessions of transactional msg/s / baseline msg/s}} (targets.TXN_RATIOS)."""
    out: dict[str, dict[str, float]] = {}
    for label, (transactional, baseline) in TXN_RATIOS.items():
        txn, base = results.get(transactional, {}), results.get(baseline, {})
        for name in names:
            t, b = txn.get(name, []), base.get(name, [])
            if not t or not b:
                continue
            if len(t) == len(b):  # session i of both: the same broker process, minutes apart at most
                ratios = [x.messages / x.wall_s / (y.messages / y.wall_s) for x, y in zip(t, b, strict=True)]
            else:  # a session lost one of them: medians of what there is
                ratios = [statistics.median(x.messages / x.wall_s for x in t)]
                ratios[0] /= statistics.median(y.messages / y.wall_s for y in b)
            out.setdefault(label, {})[name] = statistics.median(ratios)
    return out


def print_transaction_ratios(ratios: dict[str, dict[str, float]]) -> None:
    if not ratios:
        return
    print("\ntransactional produce (100/txn) msg/s over non-transactional produce from the same loop")  # noqa: T201
    print("(same broker, same session; median over sessions)")  # noqa: T201
    for label, by_broker in ratios.items():
        transactional, baseline = TXN_RATIOS[label]
        cells = "  ".join(f"{name} {value:.2f}" for name, value in by_broker.items())
        print(f"  {transactional:50} / {baseline:40} {cells}")  # noqa: T201


def check_targets(
    medians: dict[str, Any],
    gigabyte: dict[str, dict[str, float]],
    txn_ratios: dict[str, dict[str, float]] | None = None,
) -> None:
    def ratio(workload: str, figure: str, peer: str = "kafka") -> float | None:
        figs = medians.get(workload, {})
        if "brook" not in figs or peer not in figs or not figs[peer].get(figure):
            return None
        return float(figs["brook"][figure] / figs[peer][figure])

    def brook(workload: str, figure: str) -> float | None:
        return medians.get(workload, {}).get("brook", {}).get(figure)

    p1k, c1k = "produce 1KiB acks=1 p1 [java]", "consume 1KiB p1 [java]"
    lat10k = "latency 10k/s acks=all [py]"
    targets = [
        ("produce 1KiB msg/s >= 1.0 x kafka (java)", ratio(p1k, "msg/s"), 1.0, True),
        ("consume 1KiB msg/s >= 1.0 x kafka (java)", ratio(c1k, "msg/s"), 1.0, True),
        ("produce 1KiB cpu/msg <= 1.0 x kafka (java)", ratio(p1k, "cpu us/msg"), 1.0, False),
        ("consume 1KiB cpu/msg <= 1.0 x kafka (java)", ratio(c1k, "cpu us/msg"), 1.0, False),
        ("e2e p99 at 10k msg/s <= 1.0 x kafka", ratio(lat10k, "e2e_p99_ms"), 1.0, False),
        (
            "produce 1KiB msg/s >= 1.5 x tansu (py)",
            ratio("produce 1KiB acks=1 p1 [py]", "msg/s", "tansu"),
            1.5,
            True,
        ),
        (
            "consume 1KiB msg/s >= 1.5 x tansu (py)",
            ratio("consume 1KiB p1 [py]", "msg/s", "tansu"),
            1.5,
            True,
        ),
        (
            "latency e2e p50 at 1k msg/s <= 5 ms",
            brook("latency 1k/s acks=all [py]", "e2e_p50_ms"),
            5.0,
            False,
        ),
        (
            "latency e2e p99 at 1k msg/s <= 20 ms",
            brook("latency 1k/s acks=all [py]", "e2e_p99_ms"),
            20.0,
            False,
        ),
        (
            "txn 100/txn msg/s >= 0.5 x acks=1 (py)",
            (txn_ratios or {}).get("acks=1", {}).get("brook"),
            0.5,
            True,
        ),
        (
            "txn 100/txn msg/s >= 0.5 x idempotent (py)",
            (txn_ratios or {}).get("idempotent", {}).get("brook"),
            0.5,
            True,
        ),
        ("RSS after producing 1 GB <= 150 MB", gigabyte.get("brook", {}).get("rss_mb"), 150.0, False),
        ("ready after SIGKILL with 1 GB <= 5 s", gigabyte.get("brook", {}).get("restart_s"), 5.0, False),
    ]
    print("\ntarget                                          value   verdict")  # noqa: T201
    for label, value, bound, at_least in targets:
        if value is None:
            verdict = "n/a"
        else:
            verdict = "met" if (value >= bound if at_least else value <= bound) else "NOT met"
        print(f"{label:44} {num(value):>9}   {verdict}")  # noqa: T201
