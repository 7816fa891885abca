"""The web console's page times on a broker with 1,000 partitions (issue 16's goal: each page <= 200 ms).

    python bench/console_bench.py             # 1,000 partitions, 15 requests a page
    python bench/console_bench.py --smoke     # 50 partitions, 3 requests a page (seconds)

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
import time
import urllib.request
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brook.testing.broker_process import BrookProcess
from tests.console.conftest import console_url, wait_until

GOAL_MS = 200.0
PAGES = ["/", "/topics", "/topics/wide", "/topics/wide?fragment=1", "/groups", "/groups/wide-group"]


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _get(url: str) -> tuple[float, str]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read().decode()
    return (time.perf_counter() - started) * 1000, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    partitions, rounds = (50, 3) if args.smoke else (1000, 15)
    with tempfile.TemporaryDirectory(prefix="console-bench-") as data:
        broker = BrookProcess(
            data_dir=Path(data),
            startup_timeout_s=60.0,
            overrides={"brook.console.port": "0", "offsets.topic.num.partitions": "1"},
        )
        broker.start()
        try:
            url = console_url(lambda: list(broker.output))
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            admin.create_topics([NewTopic("wide", partitions, 1)], operation_timeout=60)["wide"].result(120)
            offsets = [TopicPartition("wide", p, 0) for p in range(partitions)]
            admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("wide-group", offsets)])[
                "wide-group"
            ].result(60)
            wait_until(
                lambda: _get(url + "/groups/wide-group")[1].count('data-tp="wide/') == partitions,
                60,
                "the console's snapshot with every partition and the group",
            )
            _say(
                f"console pages, {partitions} partitions, {rounds} requests each (ms), load {os.getloadavg()}"
            )
            worst = 0.0
            for page in PAGES:
                times = [_get(url + page)[0] for _ in range(rounds)]
                median = statistics.median(times)
                worst = max(worst, median)
                _say(f"  {page:28} min {min(times):7.1f}  median {median:7.1f}  max {max(times):7.1f}")
            _say(
                f"slowest median {worst:.1f} ms (goal <= {GOAL_MS:.0f} ms): {'met' if worst <= GOAL_MS else 'MISSED'}"
            )
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
