"""The web console's page times on a broker with 1,000 partitions (issue 16's goal: each page <= 200 ms).

    python bench/console_bench.py             # 1,000 partitions, 15 requests a page
    python bench/console_bench.py --smoke     # 50 partitions, 3 requests a page (seconds)
    python bench/console_bench.py --small-topics 500   # 500 of the 1,000 as one-partition topics
    python bench/console_bench.py --small-topics 500   # 500 of the 1,000 as one-partition topics

One broker serving the console from its process (`brook.console.port`), one topic and a group committed on all
its partitions. The pages render from the console's newest sample, so this times the console's own work (the
tables of every partition), not a round trip to the cluster. Prints min/median/max per page and the load
average, since the machine's other work shows in the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.console.conftest import WIDE_PAGES, get_page, wide_console

GOAL_MS = 200.0


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--small-topics",
        type=int,
        default=0,
        help="this many of the partitions as one-partition topics instead",
    )
    args = parser.parse_args()
    partitions, rounds = (50, 3) if args.smoke else (1000, 15)
    small = min(args.small_topics, partitions - 1)
    with (
        tempfile.TemporaryDirectory(prefix="console-bench-") as data,
        wide_console(Path(data), partitions - small, small) as (_, url),
    ):
        _say(
            f"console pages, {partitions} partitions ({small} of them one-partition topics), {rounds} requests "
            f"each (ms), load {os.getloadavg()}"
        )
        worst = 0.0
        for page in WIDE_PAGES:
            times = [get_page(url + page)[1] for _ in range(rounds)]
            median = statistics.median(times)
            worst = max(worst, median)
            _say(f"  {page:28} min {min(times):7.1f}  median {median:7.1f}  max {max(times):7.1f}")
        _say(
            f"slowest median {worst:.1f} ms (goal <= {GOAL_MS:.0f} ms): {'met' if worst <= GOAL_MS else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
