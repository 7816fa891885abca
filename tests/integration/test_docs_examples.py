"""Every shell example in README.md and docs/*.md runs as written, in order, against one fresh broker.

The fenced ```sh, ```bash and ```console blocks are run command by command with bash, in a directory whose
`data/` is the broker's data dir (as after `make run`), `brook` first on PATH and BROOK_BOOTSTRAP naming the
broker; other tools' `127.0.0.1:9092` becomes the broker's address. Each command must exit 0 within
COMMAND_TIMEOUT_S. In a ```console block, commands start with `$ ` and the lines after one (up to the next
`$ `) are its output as the doc shows it: the command's stdout must be those lines (blanks between columns
may differ; a `...` line stands for any number of lines).

A block that must not run (it starts a broker in the foreground, needs ZooKeeper or `make`, ...) carries the
marker `<!-- docs-test: skip (the reason) -->` on the line right above its opening fence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from brook.testing import BrookProcess

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = ("sh", "bash", "shell", "console")
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b")
FENCE = re.compile(r"^```(\w*)")
COMMAND_TIMEOUT_S = 60.0


@dataclass
class Command:
    where: str  # file:line
    text: str
    expected: list[str] | None = None  # the doc's output lines (console blocks only)


@dataclass
class Block:
    where: str
    commands: list[Command] = field(default_factory=list)


def shell_blocks(path: Path) -> list[Block]:
    """The shell blocks of one document, without the ones marked to be skipped."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        language, start = match.group(1), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        skipped = start > 0 and SKIP.search(lines[start - 1])
        if language in SHELLS and not skipped:
            where = f"{path.relative_to(ROOT)}:{start + 1}"
            parse = _console_commands if language == "console" else _script_commands
            blocks.append(Block(where, parse(path, body)))
    return blocks


def _script_commands(path: Path, body: list[tuple[int, str]]) -> list[Command]:
    commands: list[Command] = []
    pending = ""
    for number, line in body:
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(Command(f"{path.relative_to(ROOT)}:{number}", pending))
            pending = ""
    return commands


def _console_commands(path: Path, body: list[tuple[int, str]]) -> list[Command]:
    commands: list[Command] = []
    for number, line in body:
        if line.startswith("$ "):
            commands.append(Command(f"{path.relative_to(ROOT)}:{number}", line[2:], []))
        elif commands:
            assert commands[-1].expected is not None
            commands[-1].expected.append(line)
    for command in commands:
        while command.expected and not command.expected[-1].strip():
            command.expected.pop()
        if not command.expected:
            command.expected = None
    return commands


def output_matches(expected: list[str], actual: str) -> bool:
    """Line by line with blanks collapsed; `...` matches any number of lines."""

    def norm(line: str) -> str:
        return " ".join(line.split())

    got = [norm(line) for line in actual.splitlines() if line.strip()]
    want = [norm(line) for line in expected if line.strip()]

    def match(w: int, g: int) -> bool:
        if w == len(want):
            return g == len(got)
        if want[w] == "...":
            return any(match(w + 1, k) for k in range(g, len(got) + 1))
        return g < len(got) and got[g] == want[w] and match(w + 1, g + 1)

    return match(0, 0)


def test_the_docs_know_the_convention():
    """The marker is recognised, and the README's walkthrough is among what runs."""
    commands = [c.text for doc in DOCS for b in shell_blocks(doc) for c in b.commands]
    assert any(c.startswith("brook group describe my-group") for c in commands)
    assert not any(c.startswith(("make ", "brook serve")) for c in commands)  # marked: they never run here
    assert output_matches(["a  b", "...", "z"], "a b\nx\ny\nz\n")
    assert not output_matches(["a", "z"], "a\nx\nz\n")


@pytest.fixture
def workdir(tmp_path: Path):
    with BrookProcess(data_dir=tmp_path / "data") as broker:
        yield tmp_path, broker


def test_every_shell_example_in_the_docs_runs_as_written(workdir):
    cwd, broker = workdir
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "BROOK_BOOTSTRAP": broker.bootstrap,
    }
    ran = 0
    for doc in DOCS:
        for block in shell_blocks(doc):
            for command in block.commands:
                text = command.text.replace("127.0.0.1:9092", broker.bootstrap)
                try:
                    result = subprocess.run(
                        ["bash", "-o", "pipefail", "-c", text],
                        cwd=cwd,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=COMMAND_TIMEOUT_S,
                    )
                except subprocess.TimeoutExpired:
                    pytest.fail(
                        f"{command.where}: `{command.text}` did not finish in {COMMAND_TIMEOUT_S:.0f}s"
                    )
                assert result.returncode == 0, (
                    f"{command.where}: `{command.text}` exited {result.returncode}\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
                )
                if command.expected is not None:
                    assert output_matches(command.expected, result.stdout), (
                        f"{command.where}: `{command.text}` printed\n{result.stdout}\n"
                        f"but the doc shows\n" + "\n".join(command.expected)
                    )
                ran += 1
    assert ran >= 10
