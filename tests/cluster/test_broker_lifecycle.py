"""A cluster broker's process lifecycle: a failed start exits at once (its ZooKeeper session ended, no
/brokers/ids/<id> left behind), SIGTERM while starting or under load ends the process within a bound."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookCluster

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

_EXIT_BOUND_S = 10.0  # a failed start: the ZooKeeper session is closed explicitly, nothing waits on it


def _serve(zookeeper: str, data_dir: Path, node_id: int, **overrides: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "brook", "serve", "--host", "127.0.0.1", "--port", "0"]
    props = {
        "log.dirs": str(data_dir),
        "zookeeper.connect": zookeeper,
        "broker.id": str(node_id),
        **overrides,
    }
    for key, value in props.items():
        cmd += ["--override", f"{key}={value}"]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _exit_within(process: subprocess.Popen[str], timeout_s: float) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"brook did not exit within {timeout_s}s:\n{output[-4000:]}")
    return process.returncode, output, time.monotonic() - started


def test_a_start_failing_after_registration_exits_and_leaves_no_registration(zookeeper, zk, tmp_path):
    # the metrics listener binds after the broker registered: a busy metrics port fails a registered start
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        metrics_port = busy.getsockname()[1]
        process = _serve(zookeeper, tmp_path / "b7", 7, **{"brook.metrics.port": str(metrics_port)})
        code, output, _ = _exit_within(process, 30.0 + _EXIT_BOUND_S)  # includes interpreter start-up
    assert code == 1, output
    assert "registered broker in zookeeper" in output  # it did fail after registering
    assert "already in use" in output
    assert zk.exists("/brokers/ids/7") is None  # the session ended with the process, not 6+ s later
    assert zk.exists("/controller") is None


def test_an_unusable_log_dir_fails_the_start_promptly(zookeeper, zk, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("not a directory")
    process = _serve(zookeeper, not_a_dir, 8)
    code, output, _ = _exit_within(process, 30.0 + _EXIT_BOUND_S)
    assert code == 1, output
    assert "brook: failed to start" in output
    assert zk.exists("/brokers/ids/8") is None


def test_sigterm_while_waiting_out_a_stale_registration_exits(zookeeper, zk, tmp_path):
    # another session holds /brokers/ids/9: the broker waits for it (issue 10, rule 7) until SIGTERM
    zk.create("/brokers/ids/9", b'{"host":"x","port":1}', ephemeral=True, makepath=True)
    process = _serve(zookeeper, tmp_path / "b9", 9)
    waiting = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "still registered by zookeeper session" in line:
                waiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waiting.wait(60), "".join(lines)
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = process.wait(_EXIT_BOUND_S + 20)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()
    assert code == 0, "".join(lines)
    assert elapsed < _EXIT_BOUND_S, elapsed
    assert zk.get("/brokers/ids/9")[1].ephemeralOwner == zk.client_id[0]  # the holder's, untouched


def test_sigterm_on_a_cluster_broker_under_load_exits_cleanly_within_a_bound(zookeeper, tmp_path):
    overrides = {
        "zookeeper.session.timeout.ms": "6000",
        "min.insync.replicas": "2",
        # the controlled shutdown's retry budget (3 s here, 15 s by default) is the longest shutdown step
        "controlled.shutdown.max.retries": "1",
        "controlled.shutdown.retry.backoff.ms": "3000",
    }
    with BrookCluster(3, zookeeper=zookeeper, data_dir=tmp_path, overrides=overrides) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        admin.create_topics([NewTopic("busy", 6, 3)])["busy"].result(30)
        stop = threading.Event()
        acked: list[int] = []

        def produce() -> None:
            producer = Producer(
                {
                    "bootstrap.servers": cluster.bootstrap,
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": 5,
                }
            )
            i = 0
            while not stop.is_set():
                try:
                    producer.produce(
                        "busy", b"v%d" % i, on_delivery=lambda e, m: e is None and acked.append(1)
                    )
                    i += 1
                except BufferError:
                    pass
                producer.poll(0.001)
            producer.flush(30)

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        try:
            cluster.wait_until(lambda: len(acked) > 2000, 60, "records acknowledged under load")
            victim = cluster.controller()
            assert victim is not None
            started = time.monotonic()
            code = cluster.terminate(victim, timeout_s=60)
            elapsed = time.monotonic() - started
            log = cluster.broker(victim).log_path.read_text()
            before = len(acked)
            cluster.wait_until(lambda: len(acked) > before + 500, 60, "acks continue on the other brokers")
        finally:
            stop.set()
            worker.join(60)
    assert code == 0, log[-4000:]
    # controlled shutdown (at most its 3 s budget + 10 s) plus bounded steps, with headroom for a busy machine
    assert elapsed < 30, (elapsed, log[-4000:])
    tail = log[log.rindex("shutting down") :]
    assert "started replica fetcher" not in tail  # no fetcher once stopping
    assert "shut down cleanly" in tail
