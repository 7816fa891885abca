"""Kafka Connect (Kafka 4.3's connect-runtime with the connect-file connectors) against a real `brook serve`: a
standalone worker and a distributed worker moving a file through a brook topic into another file."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from brook.testing import BrookProcess
from brook.testing.cluster_broker import free_port
from tests.tools.kafka_tools import JavaProcess, wait_until, write_properties

pytestmark = pytest.mark.slow

_STRINGS = "org.apache.kafka.connect.storage.StringConverter"
_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
# Kafka's own plugins carry ServiceLoader manifests (the worker says so and suggests this): half the start-up time.
_DISCOVERY = "service_load"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _values(bootstrap: str, topic: str) -> list[str]:
    """Every value of a one-partition topic, in offset order."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "connect-checker", "enable.auto.commit": False}
    )
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        values: list[str] = []
        while len(values) < high - low:
            msg = consumer.poll(10)
            assert msg is not None, f"{topic}: read {len(values)} of {high - low} records"
            assert msg.error() is None, msg.error()
            values.append(msg.value().decode())
        return values
    finally:
        consumer.close()


def test_connect_standalone_moves_a_file_through_a_brook_topic(
    kafka_broker: BrookProcess, tmp_path: Path
) -> None:
    lines = [f"line {i}: héllo wörld" for i in range(40)]
    source_file, sink_file = tmp_path / "in.txt", tmp_path / "out.txt"
    source_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    worker = write_properties(
        tmp_path / "worker.properties",
        {
            "bootstrap.servers": kafka_broker.bootstrap,
            "key.converter": _STRINGS,
            "value.converter": _STRINGS,
            "offset.storage.file.filename": tmp_path / "standalone.offsets",
            "offset.flush.interval.ms": 1000,
            "listeners": f"http://127.0.0.1:{free_port()}",
            "plugin.discovery": _DISCOVERY,
        },
    )
    source = write_properties(
        tmp_path / "source.properties",
        {
            "name": "file-source",
            "connector.class": _SOURCE,
            "tasks.max": 1,
            "file": source_file,
            "topic": "lines",
        },
    )
    sink = write_properties(
        tmp_path / "sink.properties",
        {"name": "file-sink", "connector.class": _SINK, "tasks.max": 1, "file": sink_file, "topics": "lines"},
    )
    with JavaProcess("connect-standalone", str(worker), str(source), str(sink)) as connect:
        wait_until(
            lambda: len(_lines(sink_file)) >= len(lines), 90, f"{sink_file} to fill:\n{connect.tail()}"
        )
        assert _lines(sink_file) == lines
        assert _values(kafka_broker.bootstrap, "lines") == lines
        assert not connect.lines_matching(r"\bERROR\b"), connect.tail()


class _Rest:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def ready(self) -> bool:
        try:
            self.call("GET", "/connectors")
        except OSError:
            return False
        return True

    def running(self, name: str) -> bool:
        try:
            status = self.call("GET", f"/connectors/{name}/status")
        except OSError:
            return False
        states = [status["connector"]["state"], *(task["state"] for task in status["tasks"])]
        return len(states) > 1 and all(state == "RUNNING" for state in states)


def test_connect_distributed_keeps_configs_offsets_and_status_in_brook(
    kafka_broker: BrookProcess, tmp_path: Path
) -> None:
    b = kafka_broker.bootstrap
    source_file, sink_file = tmp_path / "in.txt", tmp_path / "out.txt"
    first = [f"first {i}" for i in range(20)]
    source_file.write_text("".join(f"{line}\n" for line in first))
    port = free_port()
    worker = write_properties(
        tmp_path / "distributed.properties",
        {
            "bootstrap.servers": b,
            "group.id": "brook-connect",
            "key.converter": _STRINGS,
            "value.converter": _STRINGS,
            "config.storage.topic": "connect-configs",
            "offset.storage.topic": "connect-offsets",
            "status.storage.topic": "connect-status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "offset.storage.partitions": 5,
            "offset.flush.interval.ms": 500,
            "listeners": f"http://127.0.0.1:{port}",
            "plugin.discovery": _DISCOVERY,
        },
    )
    rest = _Rest(port)
    with JavaProcess("connect-distributed", str(worker)) as connect:
        wait_until(rest.ready, 90, f"Connect's REST API:\n{connect.tail()}")
        rest.call(
            "POST",
            "/connectors",
            {
                "name": "src",
                "config": {"connector.class": _SOURCE, "file": str(source_file), "topic": "moved"},
            },
        )
        rest.call(
            "PUT",
            "/connectors/dst/config",
            {"connector.class": _SINK, "file": str(sink_file), "topics": "moved"},
        )
        wait_until(lambda: rest.running("src") and rest.running("dst"), 60, f"connectors:\n{connect.tail()}")
        wait_until(
            lambda: len(_lines(sink_file)) >= len(first), 60, f"{sink_file} to fill:\n{connect.tail()}"
        )
        assert _lines(sink_file) == first
        # The source task's position is in brook's offsets topic before the worker stops.
        wait_until(lambda: connect.lines_matching(r"Committing offsets for \d+ acknowledged messages"), 30,
                   "the source task to commit its offsets")  # fmt: skip
        assert connect.stop() in (0, 130, 143)
        assert not connect.lines_matching(r"\bERROR\b"), connect.tail()

    # Connect created its topics in brook as compacted topics (offsets with the partition count asked for).
    admin = AdminClient({"bootstrap.servers": b})
    topics = admin.list_topics(timeout=10).topics
    assert len(topics["connect-offsets"].partitions) == 5
    assert len(topics["connect-configs"].partitions) == 1
    for topic in ("connect-configs", "connect-offsets", "connect-status"):
        (described,) = admin.describe_configs([ConfigResource("topic", topic)]).values()
        assert described.result(10)["cleanup.policy"].value == "compact", topic

    # A new worker reads the connectors back from connect-configs and resumes the file where the offsets say.
    second = [f"second {i}" for i in range(10)]
    with source_file.open("a") as appended:
        appended.write("".join(f"{line}\n" for line in second))
    with JavaProcess("connect-distributed", str(worker)) as connect:
        wait_until(rest.ready, 90, f"Connect's REST API after the restart:\n{connect.tail()}")
        assert sorted(rest.call("GET", "/connectors")) == ["dst", "src"]
        wait_until(
            lambda: len(_lines(sink_file)) >= len(first + second),
            90,
            f"{sink_file} to grow:\n{connect.tail()}",
        )
        assert _lines(sink_file) == first + second
        assert _values(b, "moved") == first + second
        assert rest.call("GET", "/connectors/src/status")["connector"]["state"] == "RUNNING"
        assert not connect.lines_matching(r"\bERROR\b"), connect.tail()
