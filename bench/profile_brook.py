"""Where a brook broker spends its CPU under one of run.py's workloads: py-spy samples of the serving process.

    python bench/profile_brook.py --workloads consume-1KiB-p1-[py]
    python bench/profile_brook.py --workloads produce-100B-idempotent --top 30

Starts a fresh brook, runs the produces a consume needs and each workload once (unprofiled, so one-off
work such as creating __consumer_offsets stays out), then samples the broker
(py-spy record, --nonblocking, all threads, idle frames dropped) while the selected workloads run, and
prints the functions with the most samples on top of the stack (self) and anywhere in it (total).
The collapsed stacks stay in bench/results/profile-<time>.txt (flamegraph.pl or speedscope read them).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import run
from brokers import BrookBroker

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", required=True, help="comma-separated substrings of workload names")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    wanted = [w.strip() for w in args.workloads.split(",") if w.strip()]
    selected = [w for w in run.WORKLOADS if any(x in w.name.replace(" ", "-") for x in wanted)]
    if not selected:
        print(f"no workload matches {wanted}")  # noqa: T201
        return 1
    sizes = run.replace(
        run.FULL,
        count_1k=int(run.FULL.count_1k * args.scale),
        count_100=int(run.FULL.count_100 * args.scale),
        count_1k_py=int(run.FULL.count_1k_py * args.scale),
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("profile-%Y%m%d-%H%M%S.txt")
    broker = BrookBroker().start()
    try:
        # A consume reads what the produce of the same size wrote: run that first, unprofiled.
        for w in selected:
            if w.name.startswith("consume"):
                label = w.name.split()[1]
                java = w.name.endswith("[java]")
                feeder = next(
                    x
                    for x in run.WORKLOADS
                    if x.name.startswith(f"produce {label} acks=1 p{w.name.split()[2][1:]}")
                    and x.java == java
                )
                feeder.run(broker, sizes)
        for w in selected:  # a warm-up run: one-off work (e.g. creating __consumer_offsets) stays out
            w.run(broker, sizes)
        cmd = [py_spy, "record", "--pid", str(broker.stats.pid), "--format", "raw", "--rate", "250"]
        cmd += ["--nonblocking", "--threads", "-o", str(out)]
        spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        for w in selected:
            print(f"# {w.name}: {run._brief(w.run(broker, sizes))}", flush=True)  # noqa: T201
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    finally:
        broker.close()
    summarize(out, args.top)
    print(f"# collapsed stacks: {out}")  # noqa: T201
    return 0


def summarize(path: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first frame names the thread
        # The event loop waiting in select() shows as the frame that called asyncio.run: idle, not work.
        if frames and any(idle in frames[-1] for idle in ("_run (brook/cli/serve.py", "select (", "wait (")):
            continue
        count = int(count_text)
        samples += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    print(f"\n{samples} busy samples; self (top of stack):")  # noqa: T201
    for frame, count in own.most_common(top):
        print(f"  {100 * count / max(samples, 1):5.1f}%  {frame}")  # noqa: T201
    print("\ntotal (anywhere in the stack):")  # noqa: T201
    for frame, count in total.most_common(top):
        print(f"  {100 * count / max(samples, 1):5.1f}%  {frame}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
