"""Issue 10's fault scenarios that fail on the current code, kept out of pytest's collection until the broker
fixes land (a scenario moves to test_fault_scenarios.py once it passes). Run them by letter:

    PYTHONPATH=src python -m tests.cluster.pending_scenarios a c

Each runs on a ZooKeeper of its own and prints PASS or the failure.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

from tests.cluster.scenarios import SCENARIOS

# what each one hits on the current code (found by running it; see the report of the harness branch)
PENDING: dict[str, str] = {
    "a": "the old leader, restarted at once, exits: 'broker id N is already registered in ZooKeeper by "
    "another session' (issue 10 rule 7), so the tail-truncation path (rule 1) is never reached",
    "c": "CreateTopics ignores replica_assignment: the recreated topic cannot name the replica that is down "
    "(INVALID_REPLICATION_FACTOR 'larger than available brokers: 2'), so the stale-topic-id path (rule 3) "
    "cannot be reached",
    "f": "a follower whose log end offset is below the leader's log start offset (retention ran while it was "
    "down) connects its fetcher and then never advances nor rejoins the ISR, with no log line (rule 5)",
    "i": "a broker SIGKILLed and restarted within its session timeout exits: 'broker id N is already "
    "registered in ZooKeeper by another session' (rule 7)",
}


def main(argv: list[str]) -> int:
    letters = argv or sorted(PENDING)
    failed = 0
    for letter in letters:
        started = time.monotonic()
        try:
            SCENARIOS[letter](None, Path(tempfile.mkdtemp(prefix=f"brook-scenario-{letter}-")))
            verdict = "PASS"
        except Exception:  # noqa: BLE001 - report every scenario, whatever it raised
            failed += 1
            verdict = "FAIL\n" + traceback.format_exc()
        sys.stdout.write(
            f"({letter}) {SCENARIOS[letter].__name__}: {verdict} [{time.monotonic() - started:.0f}s]\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
