"""Helpers for the CLI integration tests: one broker per module, and `brook` through CliRunner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from brook.cli.main import cli
from brook.testing import BrookProcess


def module_broker_fixture() -> Any:
    """A module-scoped broker fixture: `cli_broker = module_broker_fixture()` in a test module."""

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
        broker = BrookProcess(data_dir=tmp_path_factory.mktemp("brook-cli") / "data")
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()

    return fixture


class Brook:
    """Runs `brook ARGS -b <broker>` in-process and keeps stdout and stderr apart."""

    def __init__(self, broker: BrookProcess) -> None:
        self.broker = broker

    def run(
        self, *args: Any, input: str | bytes | None = None, expect: int | None = 0, offline: bool = False
    ) -> Result:
        argv = [str(a) for a in args]
        connect = [] if offline else ["-b", self.broker.bootstrap]
        result = CliRunner().invoke(cli, [*argv, *connect], input=input)
        if expect is not None:
            assert result.exit_code == expect, (
                f"brook {' '.join(argv)} exited {result.exit_code}\nstdout:\n{result.stdout}\n"
                f"stderr:\n{result.stderr}\n{result.exception!r}"
            )
        return result

    def json(self, *args: Any, **kwargs: Any) -> Any:
        return json.loads(self.run(*args, "--format", "json", **kwargs).stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def table(text: str) -> list[dict[str, str]]:
    """Parse aligned columns by header name (cells never contain spaces in these tests)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split()
    return [dict(zip(header, line.split(), strict=True)) for line in lines[1:]]
