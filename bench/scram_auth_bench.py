"""SCRAM authentications per second on a ZooKeeper-backed brook (credentials in /config/users), measured from
the client: TCP connect, SaslHandshake and both SaslAuthenticate rounds over SASL_PLAINTEXT, sequentially and
from 8 threads. The client's PBKDF2 (4096 iterations, client work) is computed once and reused, so the figure
is the broker's: its credential lookup (a cache since the SCRAM credential cache, a ZooKeeper read before) and
its HMACs.

    python bench/scram_auth_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import functools
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from brook.protocol import scram
from brook.protocol.secure_socket import call
from brook.testing.broker_process import BrookProcess
from brook.testing.security import add_scram_user
from brook.testing.zookeeper import ZooKeeperProcess

USER, PASSWORD, MECHANISM = "bench", "bench-secret", "SCRAM-SHA-512"
scram.salted_password = functools.lru_cache(maxsize=8)(scram.salted_password)  # type: ignore[assignment]


def _call(sock: socket.socket, key: int, version: int, body: dict[str, object]) -> Any:
    return call(sock, key, version, body, "bench")


def _authenticate(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=10) as sock:
        assert _call(sock, 17, 1, {"mechanism": MECHANISM}).error_code == 0
        client = scram.ScramClient(MECHANISM, USER, PASSWORD)
        first = _call(sock, 36, 2, {"auth_bytes": client.first()})
        assert first.error_code == 0, first.error_message
        final = _call(sock, 36, 2, {"auth_bytes": client.final(bytes(first.auth_bytes))})
        assert final.error_code == 0, final.error_message
        client.verify(bytes(final.auth_bytes))


def _rate(address: tuple[str, int], threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        while time.monotonic() < stop:
            _authenticate(address)
            counts[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="brook-scram-bench-"))
    zookeeper = ZooKeeperProcess(data_dir=directory / "zookeeper").start()
    try:
        overrides = {
            "zookeeper.connect": zookeeper.connect + "/bench",
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "sasl.enabled.mechanisms": MECHANISM,
            "offsets.topic.replication.factor": "1",
        }
        with BrookProcess(data_dir=directory / "broker", overrides=overrides) as broker:
            add_scram_user(broker.bootstrap, USER, PASSWORD, (MECHANISM,))
            address = ("127.0.0.1", broker.listener_ports["SASL_PLAINTEXT"])
            _authenticate(address)  # warm: PBKDF2 cached, credential cached
            single = _rate(address, 1, args.seconds)
            parallel = _rate(address, 8, args.seconds)
    finally:
        zookeeper.stop()
    rates = f"1 client {single:.0f}, 8 clients {parallel:.0f}"
    print(f"{MECHANISM} authentications/s on a ZooKeeper broker: {rates}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
