"""pytest plugin (entry point `brook`): a `kafka_broker` fixture running a real brook process.

def test_roundtrip(kafka_broker):
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from brook.testing.broker_process import BrookProcess


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[BrookProcess]:
    """A brook broker on a free port with a temporary data dir, stopped after the test."""
    broker = BrookProcess(data_dir=tmp_path / "brook-data")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
