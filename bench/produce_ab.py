"""Broker CPU per Produce request, this tree against another: A/B without a client in the way.

    python bench/produce_ab.py --base-src ../other/src [--requests 10000] [--rounds 10] [--acks 1]

Starts brook from `--base-src` (A) and from this tree (B), creates a one-partition topic on each, and sends each
the same Produce v9 frame the Java client sends at its defaults for 100 B records (one 16 KiB batch of 148 records;
`--records`, `--size` change it), 5 requests in flight on one connection, alternating A and B in each round. Prints
each broker's CPU (user + system, from /proc) per request: the median, the minimum and every run. The client only
resends prebuilt bytes, so the broker is the only thing measured; both brokers see the same machine noise.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import sys
import time
from pathlib import Path

import workloads
from brokers import BrookBroker

from brook.protocol.client import encode_request
from brook.records.records import Record, build_batch

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _pipeline(sock: socket.socket, frame: bytes, count: int, in_flight: int = 5) -> None:
    sent = answered = 0
    buf = bytearray()
    while answered < count:
        while sent - answered < in_flight and sent < count:
            sock.sendall(frame)
            sent += 1
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the broker closed the connection")
        buf += data
        while len(buf) >= 4:
            (size,) = struct.unpack_from(">i", buf)
            if len(buf) < 4 + size:
                break
            del buf[: 4 + size]
            answered += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-src", type=Path, required=True, help="the other tree's src/ (A)")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--acks", type=int, default=1)
    parser.add_argument("--records", type=int, default=148, help="records per batch")
    parser.add_argument("--size", type=int, default=100, help="value bytes per record")
    args = parser.parse_args(argv)
    now_ms = int(time.time() * 1000)
    batch = build_batch(
        [Record(i, now_ms, None, os.urandom(args.size)) for i in range(args.records)], base_offset=0
    )
    body = {
        "transactional_id": None,
        "acks": args.acks,
        "timeout_ms": 30_000,
        "topic_data": [{"name": "ab", "partition_data": [{"index": 0, "records": bytes(batch)}]}],
    }
    frame = encode_request(0, 9, 1, "producer-1", body)
    brokers = {"A": BrookBroker(src=args.base_src), "B": BrookBroker()}
    sockets: dict[str, socket.socket] = {}
    runs: dict[str, list[float]] = {name: [] for name in brokers}
    try:
        for name, broker in brokers.items():
            broker.start()
            workloads.create_topic(broker.bootstrap, "ab", 1)
            host, port = broker.bootstrap.rsplit(":", 1)
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sockets[name] = sock
            _pipeline(sock, frame, 2_000)  # warm-up: segment, indexes, allocator
        for r in range(args.rounds):
            for name in ("A", "B") if r % 2 == 0 else ("B", "A"):
                pid = brokers[name].stats.pid
                before = _cpu_s(pid)
                _pipeline(sockets[name], frame, args.requests)
                runs[name].append((_cpu_s(pid) - before) / args.requests * 1e6)
    finally:
        for sock in sockets.values():
            sock.close()
        for broker in brokers.values():
            broker.close()
    for name, values in runs.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        median = statistics.median(values)
        print(f"{name}: broker CPU us/request median {median:.1f} min {min(values):.1f} ({shown})")  # noqa: T201
    ratio = statistics.median(runs["B"]) / statistics.median(runs["A"])
    print(f"B/A {ratio:.3f}  load average {os.getloadavg()[0]:.1f}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
