"""`brook serve`: configuration, the ready line, a busy port, and clean shutdown on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from confluent_kafka.admin import AdminClient, ConfigResource

from brook.testing import BrookProcess
from tests.integration.helpers import produce_all


def test_properties_file_and_overrides_apply(tmp_path):
    config = tmp_path / "server.properties"
    config.write_text("# test\nnum.partitions=3\nlog.retention.hours=1\nauto.create.topics.enable = true\n")
    broker = BrookProcess(data_dir=tmp_path / "d", overrides={"log.segment.bytes": "1048576"})
    broker.extra_args = ["--config", str(config)]
    broker.start()
    try:
        produce_all(broker.bootstrap, "auto", [(None, b"x")])
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        assert len(admin.list_topics(timeout=10).topics["auto"].partitions) == 3
        entries = next(iter(admin.describe_configs([ConfigResource("topic", "auto")]).values())).result(10)
        assert entries["retention.ms"].value == "3600000"
        assert entries["segment.bytes"].value == "1048576"
        assert entries["cleanup.policy"].value == "delete"
        assert entries["cleanup.policy"].is_default
        broker_entries = next(iter(admin.describe_configs([ConfigResource("broker", "0")]).values())).result(
            10
        )
        assert broker_entries["num.partitions"].value == "3"
    finally:
        broker.close()


def test_second_broker_on_a_busy_port_fails_clearly(kafka_broker, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "brook",
            "serve",
            "--port",
            str(kafka_broker.port),
            "--data-dir",
            str(tmp_path / "other"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{kafka_broker.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_cleanly_and_writes_the_clean_shutdown_marker(tmp_path):
    broker = BrookProcess(data_dir=tmp_path / "d").start()
    produce_all(broker.bootstrap, "t", [(None, b"x")] * 10)
    assert broker.process is not None
    started = time.monotonic()
    broker.process.send_signal(signal.SIGTERM)
    assert broker.process.wait(10) == 0
    assert time.monotonic() - started < 5
    assert (tmp_path / "d" / ".kafka_cleanshutdown").exists()
    broker.start()
    assert broker.wait_for_log("ready")
    assert "recovered=0" in broker.log_text() or "WARNING" not in broker.log_text()
    broker.close()


def test_log_dir_of_another_broker_is_refused(tmp_path):
    broker = BrookProcess(data_dir=tmp_path / "d").start()
    assert broker.stop() == 0
    assert "broker.id=0" in (tmp_path / "d" / "meta.properties").read_text()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "brook",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            "--override",
            "node.id=5",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "belongs to broker 0, but node.id is 5" in result.stderr
