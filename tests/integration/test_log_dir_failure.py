"""A full disk takes one log dir offline: its partitions answer KAFKA_STORAGE_ERROR, the rest keep working."""

from __future__ import annotations

import os
import subprocess

import pytest
from confluent_kafka import KafkaError, Producer

from brook.testing import BrookProcess
from tests.integration.helpers import consume_assigned
from tests.integration.raw_client import RawClient


@pytest.fixture
def tiny_dir(tmp_path):
    """A 2 MiB tmpfs: the disk that fills up."""
    path = tmp_path / "tiny"
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_full_takes_only_that_dir_offline(tmp_path, tiny_dir):
    big = tmp_path / "big"
    broker = BrookProcess(data_dir=big, overrides={"log.dirs": f"{big},{tiny_dir}"})
    broker.start()
    try:
        raw = RawClient(broker.bootstrap)
        raw.request(
            19,
            7,
            {"topics": [{"name": "split", "num_partitions": 2, "replication_factor": 1}], "timeout": 5000},
        )
        raw.close()
        on_tiny = [p for p in (0, 1) if (tiny_dir / f"split-{p}").exists()]
        assert len(on_tiny) == 1
        (bad,) = on_tiny
        good = 1 - bad

        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 1, "retries": 0})
        results: dict[int, list] = {good: [], bad: []}
        for i in range(40):
            for partition in (good, bad):
                producer.produce(
                    "split",
                    value=b"%03d" % i + b"x" * 100_000,
                    partition=partition,
                    on_delivery=lambda err, msg, p=partition: results[p].append(err),
                )
            producer.flush(10)
        assert all(err is None for err in results[good])
        bad_errors = [err for err in results[bad] if err is not None]
        assert bad_errors
        assert {err.code() for err in bad_errors} == {KafkaError.KAFKA_STORAGE_ERROR}
        assert broker.wait_for_log("log dir offline")

        # the healthy partition still serves everything it acknowledged, in order
        messages = consume_assigned(broker.bootstrap, "split", good, 40)
        assert [m.value()[:3] for m in messages] == [b"%03d" % i for i in range(40)]
        assert broker.process is not None
        assert broker.process.poll() is None
    finally:
        broker.close()
