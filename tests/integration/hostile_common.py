"""What every hostile-input case checks: the broker lives, answers, keeps its memory bounded, and a
well-behaved producer running alongside gets every record through, in order."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from brook.common.errors import ErrorCode
from brook.testing import BrookProcess
from tests.integration.helpers import consume_assigned
from tests.integration.raw_client import RawClient

MB = 1000 * 1000
MIB = 1024 * 1024


def rss_bytes(broker: BrookProcess) -> int:
    """The broker process's resident set size, from /proc/<pid>/status VmRSS."""
    assert broker.process is not None
    for line in Path(f"/proc/{broker.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def assert_alive(broker: BrookProcess) -> None:
    """The process runs and a new connection gets an ApiVersions answer."""
    assert broker.process is not None
    assert broker.process.poll() is None, broker.log_text()[-3000:]
    with RawClient(broker.bootstrap) as raw:
        response = raw.request(18, 3, {"client_software_name": "t", "client_software_version": "1"})
        assert response.error_code == ErrorCode.none


def closed_by_peer(sock: socket.socket, timeout_s: float = 10.0) -> bool:
    """True once the broker closed the connection (EOF or reset) within the timeout; any bytes it
    sends first (a response to an earlier request) are read and dropped."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def connect(broker: BrookProcess, source_ip: str = "127.0.0.1") -> socket.socket:
    host, port = broker.bootstrap.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source_ip, 0))
    sock.settimeout(10)
    sock.connect((host, int(port)))
    return sock


def frame(api_key: int, version: int, body: bytes, flexible: bool, correlation_id: int = 7) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, 1) + b"h" + (b"\x00" if flexible else b"")
    return struct.pack(">i", len(header) + len(body)) + header + body


def create_topic(broker: BrookProcess, name: str) -> None:
    with RawClient(broker.bootstrap) as raw:
        response = raw.request(
            19, 5, {"topics": [{"name": name, "num_partitions": 1, "replication_factor": 1}], "timeout": 5000}
        )
        assert response.topics[0].error_code in (ErrorCode.none, ErrorCode.topic_already_exists)


@contextmanager
def steady_producer(broker: BrookProcess, topic: str = "steady") -> Iterator[list[int]]:
    """Produces numbered records (acks=all) until the block ends, then checks a consumer reads every
    one of them, in order. Yields the list of sent numbers (grows while the block runs)."""
    create_topic(broker, topic)
    stop = threading.Event()
    sent: list[int] = []
    errors: list[object] = []
    flushed: list[int] = []

    def run() -> None:
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 1, "acks": "all"})
        i = 0
        while not stop.is_set():
            producer.produce(topic, value=b"%d" % i, on_delivery=lambda err, _m: err and errors.append(err))
            sent.append(i)
            i += 1
            producer.poll(0.01)
        flushed.append(producer.flush(60))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(90)
    assert flushed == [0], "the well-behaved producer could not flush"
    assert not errors, errors
    assert len(sent) > 0
    messages = consume_assigned(broker.bootstrap, topic, 0, len(sent), timeout_s=60)
    assert [int(m.value()) for m in messages] == sent


def survival_fixtures(rss_bound_bytes: int, steady_topic: str = "steady") -> tuple[Any, Any, Any]:
    """The fixtures of a hostile-input module whose module-scoped `broker` fixture is the target:
    `baseline_rss` (the broker's RSS before the first case), `producer_alongside` (a steady_producer on
    `steady_topic` through the whole module) and `broker_survives` (after every case the broker answers
    a new client and its RSS stays within `rss_bound_bytes` of the baseline). Assign them to those three
    names in the module, so pytest finds them:

        baseline_rss, producer_alongside, broker_survives = survival_fixtures(100 * MB)
    """

    @pytest.fixture(scope="module")
    def baseline_rss(broker: BrookProcess) -> int:
        return rss_bytes(broker)

    @pytest.fixture(scope="module", autouse=True)
    def producer_alongside(broker: BrookProcess, baseline_rss: int) -> Iterator[list[int]]:
        with steady_producer(broker, topic=steady_topic) as sent:
            yield sent

    @pytest.fixture(autouse=True)
    def broker_survives(broker: BrookProcess, baseline_rss: int) -> Iterator[None]:
        yield
        assert_alive(broker)
        assert rss_bytes(broker) <= baseline_rss + rss_bound_bytes

    return baseline_rss, producer_alongside, broker_survives
