"""docs/compatibility.md's API table says what the handlers advertise, and every API starts at Kafka 3.9's minimum."""

from __future__ import annotations

import re
from pathlib import Path

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY

handlers.load_all()

DOC = Path(__file__).resolve().parents[3] / "docs" / "compatibility.md"
ROW = re.compile(r"^\| (\d+) \| (\w+) \| (\d+)-(\d+) \| (\d+)-(\d+) \|")


def _rows() -> dict[int, tuple[str, range, range]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            key = int(m.group(1))
            assert key not in rows, f"api key {key} listed twice"
            brook = range(int(m.group(3)), int(m.group(4)) + 1)
            kafka = range(int(m.group(5)), int(m.group(6)) + 1)
            rows[key] = (m.group(2), brook, kafka)
    return rows


def test_every_handler_is_in_the_table_with_its_versions() -> None:
    rows = _rows()
    assert set(rows) == set(REGISTRY), "APIs in the doc table vs registered handlers differ"
    for key, handler in REGISTRY.items():
        name, brook, _ = rows[key]
        assert brook == handler.versions, (
            f"{name} (key {key}): doc says {brook}, handler says {handler.versions}"
        )


def test_every_api_starts_at_kafka_3_9s_minimum_and_stays_within_its_range() -> None:
    for name, brook, kafka in _rows().values():
        assert brook.start == kafka.start, f"{name} starts at v{brook.start}, Kafka 3.9 at v{kafka.start}"
        assert brook.stop <= kafka.stop, f"{name} advertises past Kafka 3.9's v{kafka.stop - 1}"
