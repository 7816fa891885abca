"""Issue 17's targets (and issue 14's transactional ratio) as one table, from one `make bench` run's figures.

    python bench/targets.py bench/results/20261201-030000            # the run directory `make bench` wrote
    python bench/targets.py --markdown bench/results/20261201-030000 # the same as a Markdown table
    python bench/targets.py a-run.json b-cluster.json c-scale.json   # or the scripts' files one by one

`make bench` gives every script the run's directory in $BENCH_RUN_DIR: run.py, cluster_bench.py and
scale_bench.py each write <dir>/<script>.json there (without it, bench/results/<time>-<script>.json), and this
reads them. One row per workload that gives a target's figure (a figure several workloads give gets a row
for each, not the best of them): brook's and Kafka's medians over the run's sessions, brook/Kafka, the
bound, the verdict (met / NOT met / n/a and why), the client in the workload's name ([java], [py], [go]) and
the load average at the end of each session that gave the figure (brook / Kafka).
Only the standard library: the unit tests call these functions on small results dicts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "Row",
    "load_docs",
    "main",
    "markdown_table",
    "results_path",
    "rows",
    "text_table",
    "verdict",
    "write_results",
]

RESULTS = Path(__file__).resolve().parent / "results"
RUN_DIR_ENV = "BENCH_RUN_DIR"
TABLE_SCRIPTS = ("run", "cluster", "scale")  # the files the table reads (security.json is beside them)
PEER = "kafka"


def results_path(script: str) -> Path:
    """$BENCH_RUN_DIR/<script>.json when `make bench` named the run's directory, else
    bench/results/<time>-<script>.json."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return Path(run_dir) / f"{script}.json"
    RESULTS.mkdir(exist_ok=True)
    return RESULTS / time.strftime(f"%Y%m%d-%H%M%S-{script}.json")


def write_results(script: str, doc: dict[str, Any]) -> Path:
    """Write one script's figures; `script` is stored in the file too, so a file is read by what it holds."""
    out = results_path(script)
    out.write_text(json.dumps({"script": script, **doc}, indent=1))
    return out


def load_docs(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """{script: results document} from files and run directories (every *.json in a directory). A file
    without a `script` key is run.py's from before it had one."""
    docs: dict[str, dict[str, Any]] = {}
    for path in paths:
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            doc = json.loads(file.read_text())
            docs[doc.get("script", "run")] = {**doc, "file": str(file)}
    return docs


@dataclass(frozen=True)
class Row:
    target: str
    workload: str  # the workload or scenario, with its client: [java], [py], [go]
    brook: float | None
    kafka: float | None
    bound: float
    at_least: bool  # the figure must be >= bound (else <= bound)
    on_ratio: bool  # the verdict is on brook/Kafka (else on brook's own figure)
    unit: str = ""  # of the bound on brook's own figure
    load: str = ""  # load average at the end of the sessions that gave the figures: brook / Kafka
    missing: str = ""  # why there is no figure at all

    @property
    def ratio(self) -> float | None:
        if self.brook is None or self.kafka is None or self.kafka == 0:
            return None
        return self.brook / self.kafka

    @property
    def bound_text(self) -> str:
        sign = ">=" if self.at_least else "<="
        return f"{sign} {self.bound:.1f}x Kafka" if self.on_ratio else f"{sign} {_num(self.bound)}{self.unit}"

    @property
    def verdict(self) -> str:
        if self.missing:
            return f"n/a: {self.missing}"
        if self.brook is None:
            return "n/a: no brook figure (not run or failed)"
        if not self.on_ratio:
            return verdict(self.brook, self.bound, at_least=self.at_least)
        if self.kafka is None:
            return "n/a: no Kafka figure (not run or failed)"
        if self.ratio is None:
            return "n/a: Kafka's figure is 0 (too few CPU clock ticks)"
        return verdict(self.ratio, self.bound, at_least=self.at_least)


def verdict(value: float, bound: float, *, at_least: bool) -> str:
    if math.isnan(value):
        return "n/a: figure is NaN"
    return "met" if (value >= bound if at_least else value <= bound) else "NOT met"


# Figures of run.py's and cluster_bench.py's samples (the same shape: workloads.Sample as a dict).
def _figure(sample: dict[str, Any], figure: str) -> float:
    if figure == "msg/s":
        return float(sample["messages"] / sample["wall_s"])
    if figure == "cpu us/msg":
        return float(sample["cpu_s"] * 1e6 / max(sample["messages"], 1))
    return float(sample["extra"].get(figure, math.nan))


def _median(samples: list[dict[str, Any]], figure: str) -> float | None:
    return statistics.median(_figure(s, figure) for s in samples) if samples else None


def _loads(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    return low if low == high else f"{low}-{high}"


def _sample_loads(by_broker: dict[str, list[dict[str, Any]]]) -> str:
    return " / ".join(
        _loads([s["extra"]["load avg"] for s in by_broker.get(n, []) if "load avg" in s["extra"]])
        for n in ("brook", PEER)
    )


class SampleTarget(NamedTuple):
    """A ratio brook / Kafka of the medians of one figure, for every workload whose name matches."""

    target: str
    script: str
    workloads: str  # a regular expression over workload names
    figure: str
    bound: float
    at_least: bool


_NOT_TXN = r"(?!.*transactional)"
SAMPLE_TARGETS = [
    SampleTarget("produce 1 KiB: msg/s", "run", rf"^produce 1KiB {_NOT_TXN}", "msg/s", 1.0, True),
    SampleTarget("consume 1 KiB: msg/s", "run", r"^consume 1KiB ", "msg/s", 1.0, True),
    SampleTarget(
        "broker CPU per message: us",
        "run",
        rf"^(produce|consume) (1KiB|100B) {_NOT_TXN}",
        "cpu us/msg",
        1.0,
        False,
    ),
    SampleTarget("e2e p99 at 10k msg/s: ms", "run", r"^latency 10k/s ", "e2e_p99_ms", 1.0, False),
    SampleTarget("3-broker RF=3 acks=all: msg/s", "cluster", r"^RF=3 produce ", "msg/s", 0.8, True),
]


def _sample_rows(docs: dict[str, dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for t in SAMPLE_TARGETS:
        samples = docs.get(t.script, {}).get("samples", {})
        names = [w for w in samples if re.search(t.workloads, w)]
        for workload in names:
            by_broker = samples[workload]
            brook = _median(by_broker.get("brook", []), t.figure)
            kafka = _median(by_broker.get(PEER, []), t.figure)
            load = _sample_loads(by_broker)
            out.append(Row(t.target, workload, brook, kafka, t.bound, t.at_least, True, load=load))
        if not names:
            why = f"no {t.script}.json in this run" if t.script not in docs else "workload not run"
            out.append(Row(t.target, "-", None, None, t.bound, t.at_least, True, missing=why))
    return out


class ScaleTarget(NamedTuple):
    """brook's own figure of a scale_bench.py scenario (kind and size), at most the bound."""

    target: str
    kind: str
    size: int
    figure: str
    bound: float
    unit: str


SCALE_TARGETS = [
    ScaleTarget(
        "10,000 partitions: start-up after clean stop",
        "partitions",
        10_000,
        "start after clean stop s",
        10,
        " s",
    ),
    ScaleTarget(
        "10,000 partitions: start-up after kill -9", "partitions", 10_000, "start after kill -9 s", 10, " s"
    ),
    ScaleTarget("10,000 partitions: RSS after produce", "partitions", 10_000, "rss MB", 1000, " MB"),
    ScaleTarget(
        "10,000 partitions: RSS after restart", "partitions", 10_000, "rss after restart MB", 1000, " MB"
    ),
    ScaleTarget("500 producer connections: errors", "connections", 500, "500 producers: errors", 0, ""),
    ScaleTarget(
        "500 producer connections: p99 / 1 connection's", "connections", 500, "p99 N / 1 producer", 2, "x"
    ),
]


def _scale_rows(docs: dict[str, dict[str, Any]]) -> list[Row]:
    scale = docs.get("scale")
    out = []
    for t in SCALE_TARGETS:
        found = [s for s in (scale or {}).get("scenarios", []) if (s["kind"], s["size"]) == (t.kind, t.size)]
        for scenario in found:
            figures = [scenario["brokers"].get(n, {}) for n in ("brook", PEER)]
            load = " / ".join(_loads([v for k, v in f.items() if "load avg" in k]) for f in figures)
            brook, kafka = (f.get(t.figure) for f in figures)
            out.append(Row(t.target, scenario["title"], brook, kafka, t.bound, False, False, t.unit, load))
        if not found:
            why = (
                "no scale.json in this run"
                if scale is None
                else f"scenario not run (scale_bench.py --{t.kind} {t.size})"
            )
            out.append(Row(t.target, "-", None, None, t.bound, False, False, t.unit, missing=why))
    return out


# Issue 14: transactional produce (100 records per transaction) over non-transactional produce on the same
# broker, in the same session (run.py's report.transaction_ratios, stored in run.json); brook's own ratio >= 0.5
# (Kafka's beside it). Each client's pair comes from one send loop: librdkafka from Python ([py]), and the Java
# client's plain loop, bench/java/TxnProducer.java ([java-loop]). {label: (transactional, baseline)}
TXN_RATIOS = {
    "acks=1": ("produce 1KiB transactional 100/txn p1 [py]", "produce 1KiB acks=1 p1 [py]"),
    "idempotent": ("produce 1KiB transactional 100/txn p1 [py]", "produce 1KiB idempotent p1 [py]"),
    "acks=1 [java-loop]": (
        "produce 1KiB transactional 100/txn p1 [java-loop]",
        "produce 1KiB acks=1 p1 [java-loop]",
    ),
    "idempotent [java-loop]": (
        "produce 1KiB transactional 100/txn p1 [java-loop]",
        "produce 1KiB idempotent p1 [java-loop]",
    ),
}


def _txn_rows(docs: dict[str, dict[str, Any]]) -> list[Row]:
    run = docs.get("run")
    ratios = (run or {}).get("transactional_over_plain", {})
    out = []
    for label, (transactional, baseline) in TXN_RATIOS.items():
        load = _sample_loads((run or {}).get("samples", {}).get(transactional, {}))
        by_broker = ratios.get(label, {})
        missing = "" if by_broker else ("no run.json in this run" if run is None else "workload not run")
        target = f"issue 14: transactional 100/txn msg/s over {label}"
        workload = f"{transactional} / {baseline}"
        brook, kafka = by_broker.get("brook"), by_broker.get(PEER)
        out.append(Row(target, workload, brook, kafka, 0.5, True, False, "x", load, missing))
    return out


def rows(docs: dict[str, dict[str, Any]]) -> list[Row]:
    """Every target's rows, in the issue's order, from one run's results documents ({script: doc})."""
    return [*_sample_rows(docs), *_scale_rows(docs), *_txn_rows(docs)]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")


HEADER = [
    "target: figure",
    "workload [client]",
    "brook",
    "Kafka",
    "brook/Kafka",
    "bound",
    "verdict",
    "load avg brook / Kafka",
]


def _cells(row: Row) -> list[str]:
    ratio = _num(row.ratio) if row.ratio is not None else "-"
    return [
        row.target,
        row.workload,
        _num(row.brook),
        _num(row.kafka),
        ratio,
        row.bound_text,
        row.verdict,
        row.load,
    ]


def text_table(table: list[Row]) -> str:
    lines = [HEADER, *(_cells(r) for r in table)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if 2 <= i <= 4 else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def markdown_table(table: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---:|---:|---:|---|---|---|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in table]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="run directories or results files")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    docs = load_docs(args.paths)
    files = ", ".join(f"`{d['file']}`" for n, d in docs.items() if n in TABLE_SCRIPTS)
    brokers = docs.get("run", {}).get("brokers", {})
    table = rows(docs)
    if args.markdown:
        lines = [f"Targets of issue 17 (and issue 14), brook / Kafka, from {files}:", ""]
        lines += [*(f"- {name}: {text}" for name, text in brokers.items()), "", markdown_table(table)]
    else:
        lines = ["", f"# issue 17 targets, brook / Kafka, from {files.replace('`', '')}"]
        lines += [*(f"# {name}: {text}" for name, text in brokers.items()), text_table(table)]
    print("\n".join(lines))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
