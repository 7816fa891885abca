"""Hostile connections against a real `brook serve`: 100 MiB prefixes, big requests past the request
memory pool, thousands of idle connections, idle expiry, per-IP limits.

Each case runs a well-behaved producer alongside (every record must arrive, in order), checks the
broker is alive afterwards and states the RSS bound it holds the broker to.
"""

from __future__ import annotations

import logging
import re
import resource
import socket
import struct
import threading
import time
import urllib.request

import pytest

from brook.protocol.varint import encode_uvarint
from brook.testing import BrookProcess
from tests.integration.helpers import produce_all, wait_until
from tests.integration.hostile_common import (
    MB,
    MIB,
    assert_alive,
    closed_by_peer,
    connect,
    frame,
    rss_bytes,
    steady_producer,
)
from tests.integration.raw_client import RawClient, read_frame

log = logging.getLogger(__name__)  # figures: run with -o log_cli=true --log-cli-level=INFO
POOL_BYTES = 20 * MIB  # queued.max.request.bytes of the memory broker


def _metric(broker: BrookProcess, name: str) -> float:
    match = re.search(r"metrics listening on (http://\S+/metrics)", broker.log_text())
    assert match
    body = urllib.request.urlopen(match.group(1), timeout=10).read().decode()
    found = re.search(rf"^{name} (\S+)$", body, re.M)
    assert found, name
    return float(found.group(1))


def _api_versions(sock: socket.socket, software_name: bytes = b"t", correlation_id: int = 1) -> None:
    """Send ApiVersions v3 and read its answer whole."""
    body = encode_uvarint(len(software_name) + 1) + software_name + b"\x021\x00"
    sock.sendall(frame(18, 3, body, flexible=True, correlation_id=correlation_id))
    assert struct.unpack_from(">ih", read_frame(sock)) == (correlation_id, 0)


@pytest.fixture(scope="module")
def memory_broker(tmp_path_factory):
    overrides = {"queued.max.request.bytes": str(POOL_BYTES), "brook.metrics.port": "0"}
    with BrookProcess(data_dir=tmp_path_factory.mktemp("hostile-memory"), overrides=overrides) as process:
        assert process.wait_for_log("metrics listening")
        yield process


def test_200_connections_announcing_100_mib_each_hold_only_what_they_sent(memory_broker):
    broker = memory_broker
    baseline = rss_bytes(broker)
    socks = []
    with steady_producer(broker, "steady-prefixes"):
        for _ in range(200):
            sock = connect(broker)
            sock.sendall(struct.pack(">i", 100 * MIB) + b"\x00\x03\x00\x09")
            socks.append(sock)
        # The broker has read the prefixes: the first one holds the pool, the others wait for it.
        wait_until(lambda: _metric(broker, "brook_request_memory_reserved_bytes") == 100 * MIB, timeout_s=30)
        time.sleep(1)  # let every prefix be read
        assert_alive(broker)
        pending_rss = rss_bytes(broker)
        log.info(
            "RSS idle %.1f MB, with 200 pending 100 MiB prefixes %.1f MB", baseline / MB, pending_rss / MB
        )
        assert pending_rss <= baseline + 100 * MB  # the goal: <= queued.max.request.bytes + 100 MB
        for sock in socks:
            sock.close()
        wait_until(lambda: _metric(broker, "brook_request_memory_reserved_bytes") == 0, timeout_s=30)
    assert_alive(broker)


def test_big_requests_past_the_pool_wait_their_turn_and_memory_stays_bounded(memory_broker):
    broker = memory_broker
    baseline = rss_bytes(broker)
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes(broker))
            time.sleep(0.02)

    answered: list[int] = []
    failures: list[BaseException] = []

    def big_request(i: int) -> None:
        try:
            sock = connect(broker)
            sock.settimeout(120)
            _api_versions(sock, b"a" * (8 * MIB), correlation_id=i)  # an 8 MiB request, sent whole
            answered.append(i)
            sock.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with steady_producer(broker, "steady-big"):
        threads = [threading.Thread(target=big_request, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
    stop.set()
    sampler.join(5)
    assert not failures, failures
    assert sorted(answered) == list(range(8))
    log.info("RSS before %.1f MB, peak with 8 x 8 MiB requests %.1f MB", baseline / MB, peak[0] / MB)
    assert peak[0] <= baseline + POOL_BYTES + 100 * MB
    assert_alive(broker)


def test_2000_idle_connections_cost_little_memory(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2000 + 500
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))  # inherited by the broker
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= wanted, "the hard RLIMIT_NOFILE is too low"
    with BrookProcess(data_dir=tmp_path / "idle") as broker:
        assert_alive(broker)
        baseline = rss_bytes(broker)
        socks = []
        with steady_producer(broker, "steady-idle"):
            for i in range(2000):
                sock = connect(broker)
                _api_versions(sock, correlation_id=i)  # each connection has been read from once
                socks.append(sock)
            time.sleep(1)
            idle_rss = rss_bytes(broker)
            log.info(
                "RSS idle broker %.1f MB, with 2000 idle connections %.1f MB", baseline / MB, idle_rss / MB
            )
            assert idle_rss - baseline <= 150 * MB
            assert_alive(broker)
            for sock in socks:
                sock.close()


@pytest.fixture(scope="module")
def limits_broker(tmp_path_factory):
    overrides = {
        "connections.max.idle.ms": "1500",
        "max.connections.per.ip": "5",
        "max.connections.per.ip.overrides": "127.0.0.1:1000",
        "max.connections": "40",
    }
    with BrookProcess(data_dir=tmp_path_factory.mktemp("hostile-limits"), overrides=overrides) as process:
        yield process


def test_idle_connections_are_closed_after_connections_max_idle_ms(limits_broker):
    broker = limits_broker
    with steady_producer(broker, "steady-idle-ms"):
        silent = connect(broker)
        busy = connect(broker)
        opened = time.monotonic()
        for i in range(14):  # 4.2 s of a request every 300 ms: never idle for 1.5 s
            _api_versions(busy, correlation_id=i)
            time.sleep(0.3)
        assert closed_by_peer(silent, timeout_s=30)
        assert time.monotonic() - opened >= 1.4
        _api_versions(busy, correlation_id=99)  # the busy one is still open
        busy.close()
        silent.close()
    assert_alive(broker)
    assert broker.wait_for_log(re.escape("idle for connections.max.idle.ms=1500"), timeout_s=10)


def test_max_connections_per_ip_closes_the_excess_connection(limits_broker):
    broker = limits_broker
    with steady_producer(broker, "steady-per-ip"):
        held = [connect(broker, source_ip="127.0.0.2") for _ in range(5)]
        for i, sock in enumerate(held):
            _api_versions(sock, correlation_id=i)
        excess = connect(broker, source_ip="127.0.0.2")
        assert closed_by_peer(excess)
        excess.close()
        held.pop().close()  # a slot frees up

        def accepted() -> bool:
            sock = connect(broker, source_ip="127.0.0.2")
            try:
                _api_versions(sock)
            except (AssertionError, OSError):
                sock.close()
                return False
            held.append(sock)
            return True

        wait_until(accepted, timeout_s=30, interval_s=0.2)
        # 127.0.0.1 has an override of 1000: more than 5 from there are fine
        mine = [connect(broker) for _ in range(8)]
        for i, sock in enumerate(mine):
            _api_versions(sock, correlation_id=i)
        for sock in held + mine:
            sock.close()
    assert_alive(broker)
    assert broker.wait_for_log(
        re.escape("too many connections from 127.0.0.2 (max.connections.per.ip=5)"), timeout_s=10
    )


def test_max_connections_closes_connections_past_the_broker_limit(limits_broker):
    broker = limits_broker
    with steady_producer(broker, "steady-max-conn"):
        socks = []
        refused = 0
        for source in (
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.5",
            "127.0.0.6",
            "127.0.0.7",
            "127.0.0.8",
            "127.0.0.9",
            "127.0.0.10",
            "127.0.0.11",
            "127.0.0.12",
        ):
            for _ in range(5):
                sock = connect(broker, source_ip=source)
                try:
                    _api_versions(sock)
                    socks.append(sock)
                except (AssertionError, OSError):
                    refused += 1
                    sock.close()
        assert refused >= 10  # 50 tried, at most 40 held in all (the producer holds some too)
        assert len(socks) <= 40
        for sock in socks:
            sock.close()
    assert_alive(broker)
    assert broker.wait_for_log(re.escape("max.connections=40 reached"), timeout_s=10)


def test_a_client_that_never_reads_its_big_fetches_holds_one_response_at_a_time(memory_broker):
    broker = memory_broker
    produce_all(broker.bootstrap, "fetched", [(None, b"x" * 100_000)] * 100)  # 10 MB to fetch
    baseline = rss_bytes(broker)
    fetch = {
        "replica_id": -1,
        "max_wait": 0,
        "min_bytes": 1,
        "max_bytes": 50_000_000,
        "isolation_level": 0,
        "topics": [
            {
                "topic": "fetched",
                "partitions": [
                    {
                        "partition": 0,
                        "fetch_offset": 0,
                        "partition_max_bytes": 20_000_000,
                        "log_start_offset": -1,
                        "current_leader_epoch": -1,
                    }
                ],
            }
        ],
    }
    greedy = RawClient(broker.bootstrap)
    with steady_producer(broker, "steady-slow-reader"):
        greedy.sock.sendall(b"".join(greedy.frame(1, 11, fetch)[1] for _ in range(64)))  # 64 x 10 MB asked
        peak = baseline
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            peak = max(peak, rss_bytes(broker))
            time.sleep(0.05)
        assert_alive(broker)
    log.info("RSS before %.1f MB, peak with 64 unread 10 MB fetches %.1f MB", baseline / MB, peak / MB)
    assert peak <= baseline + 100 * MB  # all 64 answered at once would be 640 MB
    greedy.close()
    assert_alive(broker)
