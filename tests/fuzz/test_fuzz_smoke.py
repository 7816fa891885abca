"""A few seconds of each coverage-guided fuzzer inside the test run (`make fuzz`, `make fuzz-handlers` run them
for long).

The decoder fuzzer starts from the seed corpus (real client frames and a generated request of every
advertised API/version), so even a short run decodes every API/version and mutates each; the handler
fuzzer adds request sequences (SASL exchanges, a transaction, ACLs, SCRAM credentials) and runs every seed
through a real in-process broker's handlers and response encoder. Each fails on any crash, an uncaught
exception, an error the broker logs, or the process aborting.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SECONDS = int(os.environ.get("BROOK_FUZZ_SMOKE_SECONDS", "5"))
FUZZERS = {
    "decoder": ("fuzz_requests.py", [HERE / "corpus"]),
    "handlers": ("fuzz_handlers.py", [HERE / "handler_corpus", HERE / "regressions", HERE / "corpus"]),
}


@pytest.mark.parametrize("fuzzer", sorted(FUZZERS))
def test_fuzzer_finds_no_crash_in_a_short_run(tmp_path: Path, fuzzer: str) -> None:
    script, seeds = FUZZERS[fuzzer]
    work = tmp_path / "corpus"
    work.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / script),
            str(work),
            *(str(s) for s in seeds),
            f"-max_total_time={SECONDS}",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/crash-",
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert not list(tmp_path.glob("crash-*")), output[-5000:]
    executed = re.search(r"stat::number_of_executed_units: (\d+)", output)
    assert executed, output[-2000:]
    assert int(executed.group(1)) >= sum(len(list(s.iterdir())) for s in seeds)  # at least every seed ran


def test_the_seed_corpus_holds_every_advertised_api_version() -> None:
    """Every API key the handler registry serves, at every version ApiVersions advertises, has seeds (a
    new handler or version without them: run tests/fuzz/make_corpus.py)."""
    from brook.broker import handlers
    from brook.broker.handlers.base import REGISTRY
    from tests.fuzz.fuzz_requests import API_VERSIONS, RAW

    handlers.load_all()
    assert sorted((h.api_key, v) for h in REGISTRY.values() for v in h.versions) == API_VERSIONS
    seeded = set()
    for path in (HERE / "corpus").iterdir():
        (selector,) = struct.unpack_from(">H", path.read_bytes())
        if selector < RAW:
            seeded.add(API_VERSIONS[selector % len(API_VERSIONS)])
    assert sorted(seeded) == API_VERSIONS
