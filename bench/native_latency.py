"""End-to-end latency at a fixed rate from the native load generator (bench/go, franz-go, `-mode e2e`).

The same workload as workloads.latency ([py]: acks=all, linger 5 ms, 100 B records, one partition, one
consumer), from one Go process: its producer and consumer do not share a Python interpreter (a GIL) with
each other or with the pacing loop, so what is left of the tail is the broker's and the machine's.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from brokers import ProcStats
from workloads import Sample

__all__ = ["BROOKBENCH", "latency", "run_gated"]

BROOKBENCH = Path(__file__).resolve().parent.parent / "build" / "go" / "bin" / "brookbench"
_VALUE_BYTES = 100


def run_gated(what: str, args: list[str], before: Callable[[], None], timeout_s: float) -> dict:
    """Run brookbench with `-gate`: it connects and warms up, prints `warm` and waits; `before` runs then,
    just before the timed part, which starts when `go` reaches its stdin. Returns its JSON report."""
    cmd = [str(BROOKBENCH), "-gate", *args]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        if child.stdout.readline().strip() != "warm":
            child.kill()
            raise RuntimeError(f"brookbench {what} did not warm up")
        before()
        child.stdin.write("go\n")
        child.stdin.flush()
        try:
            out, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            raise RuntimeError(f"brookbench {what} did not finish") from None
        if child.returncode != 0:
            raise RuntimeError(f"brookbench {what} failed ({child.returncode})")
    report: dict = json.loads(out)
    return report


def latency(
    bootstrap: str,
    stats: ProcStats,
    topic: str,
    *,
    rate: int,
    seconds: float,
    client_args: tuple[str, ...] = (),
) -> Sample:
    """`client_args`: brookbench flags a broker needs (brokers.PeerBroker.go_client_args)."""
    args = ["-mode", "e2e", "-bootstrap", bootstrap, "-topic", topic, *client_args]
    args += ["-rate", str(rate), "-seconds", str(seconds), "-size", str(_VALUE_BYTES)]
    started: list[tuple[float, float]] = []
    report = run_gated(
        "-mode e2e", args, lambda: started.append((stats.cpu_s(), time.perf_counter())), seconds + 120
    )
    ((cpu0, t0),) = started
    wall, cpu = time.perf_counter() - t0, stats.cpu_s() - cpu0
    if report["errors"] or report["received"] < report["sent"]:
        raise RuntimeError(
            f"{report['errors']} produce errors ({report['first_error']}), "
            f"{report['received']} of {report['sent']} records consumed"
        )
    e2e, ack = report["e2e_ms"], report["ack_ms"]
    extra = {f"e2e_{k}_ms": e2e[k] for k in ("p50", "p99", "p999")}
    extra |= {f"dr_{k}_ms": ack[k] for k in ("p50", "p99", "p999")}
    extra["received"] = float(report["received"])
    messages = report["received"]
    return Sample(
        messages, messages * _VALUE_BYTES, wall, cpu, stats.rss_bytes(), report["cpu_s"], 0.0, extra
    )
