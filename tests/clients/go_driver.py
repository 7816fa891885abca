"""Runs the Go client drivers that `make go-clients` builds into build/go/bin (one scenario per run, JSON out)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[2]
GO_BIN = REPO / "build" / "go" / "bin"


def run_go_driver(binary: str, *args: str, timeout_s: float = 120.0) -> Any:
    """The driver's JSON report; a driver that fails or is missing fails the test with its stderr."""
    path = GO_BIN / binary
    if not path.exists():
        pytest.fail(f"{path} is missing: `make go-clients` (part of `make test`) builds it", pytrace=False)
    result = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, f"{binary} {' '.join(args)} failed:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def partition_offsets(records: list[dict[str, Any]]) -> dict[int, list[int]]:
    """Offsets read per partition, in the order the records came."""
    by_partition: dict[int, list[int]] = {}
    for r in records:
        by_partition.setdefault(r["partition"], []).append(r["offset"])
    return by_partition
