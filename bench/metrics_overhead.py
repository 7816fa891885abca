"""A/B: broker CPU per request of this tree against another tree of brook (e.g. the commit before a metrics
change), for serial one-record Produce, Metadata of a 100-partition topic, and small Fetch requests.

Both brokers run at once; rounds alternate between them so the machine's load hits both alike. CPU is the
broker process's user + system time (/proc/<pid>/stat) over a round of serial requests on one connection.

    git archive <base commit> src | tar -x -C /tmp/base
    PYTHONPATH=src .venv/bin/python bench/metrics_overhead.py --base-src /tmp/base/src
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brook.protocol.secure_socket import call
from brook.testing import BrookProcess
from brook.testing.batches import make_batch

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime, stime


def start(src: str, data_dir: Path) -> BrookProcess:
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = src
    try:
        broker = BrookProcess(data_dir=data_dir, overrides={"num.partitions": "1"})
        broker.start()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    return broker


def workloads() -> dict[str, Callable[[socket.socket], Any]]:
    batch = bytes(make_batch([(b"k", b"v" * 100)]))
    produce = {
        "transactional_id": None,
        "acks": 1,
        "timeout": 30000,
        "topic_data": [{"name": "ab", "partition_data": [{"index": 0, "records": batch}]}],
    }
    metadata = {
        "topics": [{"name": "wide", "topic_id": None}],
        "allow_auto_topic_creation": False,
        "include_topic_authorized_operations": False,
    }
    fetch = {
        "replica_id": -1,
        "max_wait": 0,
        "min_bytes": 0,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": "ab",
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": -1,
                        "fetch_offset": 0,
                        "last_fetched_epoch": -1,
                        "log_start_offset": -1,
                        "partition_max_bytes": 4096,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }
    return {
        "produce": lambda sock: call(sock, 0, 9, produce, "ab"),
        "metadata": lambda sock: call(sock, 3, 12, metadata, "ab"),
        "fetch": lambda sock: call(sock, 1, 12, fetch, "ab"),
    }


def prepare(broker: BrookProcess) -> None:
    topics = [
        {"name": n, "num_partitions": p, "replication_factor": 1, "assignments": [], "configs": []}
        for n, p in (("ab", 1), ("wide", 100))
    ]
    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as sock:
        call(sock, 19, 5, {"topics": topics, "timeout": 30000, "validate_only": False}, "ab")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-src", required=True, help="src/ of the tree to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--data-dir", default="/tmp/brook-metrics-ab")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    brokers = {
        "base": start(args.base_src, Path(args.data_dir) / "base"),
        "this": start(here, Path(args.data_dir) / "this"),
    }
    try:
        for broker in brokers.values():
            prepare(broker)
        per_request: dict[tuple[str, str], list[float]] = {}
        for name, work in workloads().items():
            for _ in range(args.rounds):
                for label, broker in brokers.items():
                    assert broker.process is not None
                    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as sock:
                        work(sock)  # warm
                        before = cpu_s(broker.process.pid)
                        for _ in range(args.requests):
                            work(sock)
                        used = cpu_s(broker.process.pid) - before
                    per_request.setdefault((name, label), []).append(used / args.requests * 1e6)
            base = statistics.median(per_request[(name, "base")])
            this = statistics.median(per_request[(name, "this")])
            print(  # noqa: T201
                f"{name:9s} base {base:6.1f} us/request  this {this:6.1f} us/request  "
                f"({(this / base - 1) * 100:+.1f}%)  rounds base {sorted(per_request[(name, 'base')])} "
                f"this {sorted(per_request[(name, 'this')])}",
                flush=True,
            )
    finally:
        for broker in brokers.values():
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
