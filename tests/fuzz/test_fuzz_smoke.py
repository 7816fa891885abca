"""A few seconds of the coverage-guided fuzzer inside the test run (`make fuzz` runs it for long).

The fuzzer starts from the seed corpus (real client frames and a generated request of every
advertised API/version), so even a short run decodes every API/version and mutates each; it fails
on any crash, an uncaught exception or the process aborting.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SECONDS = int(os.environ.get("BROOK_FUZZ_SMOKE_SECONDS", "5"))


def test_fuzzer_finds_no_crash_in_a_short_run(tmp_path: Path) -> None:
    work = tmp_path / "corpus"
    work.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_requests.py"),
            str(work),
            str(HERE / "corpus"),
            f"-max_total_time={SECONDS}",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/crash-",
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert not list(tmp_path.glob("crash-*")), output[-5000:]
    executed = re.search(r"stat::number_of_executed_units: (\d+)", output)
    assert executed, output[-2000:]
    assert int(executed.group(1)) >= len(list((HERE / "corpus").iterdir()))  # at least every seed ran
