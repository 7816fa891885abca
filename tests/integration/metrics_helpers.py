"""Read a real broker's /metrics: its address from the broker's log, its samples parsed by prometheus_client."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import wait_until

_LISTENING = re.compile(r"metrics listening on (http://\S+/metrics)")
METRICS_ON = {"brook.metrics.port": "0"}  # overrides that start /metrics on a free port


def metrics_url(broker: Any, timeout_s: float = 30.0) -> str:
    """The broker's /metrics address (its latest start's, read from the log file a cluster broker keeps)."""

    def found() -> str | None:
        path = getattr(broker, "log_path", None)
        text = path.read_text() if path is not None and path.exists() else broker.log_text()
        matches = _LISTENING.findall(text)
        return matches[-1] if matches else None

    return wait_until(found, timeout_s=timeout_s)


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, default: float | None = None, **labels: str) -> float:
        """The sample with exactly these labels; `default` (if given) when the broker has no such series."""
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            if default is not None:
                return default
            raise KeyError(f"no sample {name}{labels}")
        return self.samples[key]

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def labelled(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def scrape(url: str) -> Scrape:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return Scrape(text, samples)
