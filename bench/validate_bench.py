"""Produce validation cost: what Kafka's batch rules (records/validator.py) add per MiB on top of the
framing + CRC32C check (`validate_batches`) that was the whole per-request cost before them.

    python bench/validate_bench.py           # ~1 MiB batches of 100 B, 1 KiB and 100 KiB records
    python bench/validate_bench.py --smoke   # fewer rounds

For each record size and codec: MiB/s of validate_batches alone ("before") and of validate_batches +
validate_records ("after"), on the same batches in the same run, best of the rounds;
"per MiB" is the added cost per MiB of batch (compressed size for lz4/zstd).
"""

from __future__ import annotations

import argparse
import os
import time

from brook.records.batch import Compression, validate_batches
from brook.records.validator import ValidationPolicy, validate_records
from brook.testing.batches import make_batch

MIB = 1024 * 1024


def _rate(batch: bytes, rounds: int, deep: bool) -> float:
    """MiB/s of the fastest of `rounds` runs (the machine is shared: the best run is the least disturbed)."""
    policy = ValidationPolicy()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        batches = validate_batches(batch)
        if deep:
            validate_records(batch, batches, policy, 0)
        best = min(best, time.perf_counter() - start)
    return len(batch) / best / MIB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    rounds = 3 if args.smoke else 20
    print(  # noqa: T201 - a benchmark's report
        f"{'records':>10} {'codec':>6} {'batch KiB':>9} {'before MiB/s':>13} {'after MiB/s':>12} {'per MiB':>10}"
    )
    for record_bytes in (100, 1024, 100 * 1024):
        count = max(1, MIB // (record_bytes + 20))
        values = [os.urandom(record_bytes // 2) * 2 for _ in range(count)]  # compressible by half
        for codec in (Compression.none, Compression.lz4, Compression.zstd):
            batch = bytes(make_batch([(b"key", v) for v in values], compression=codec))
            before = _rate(batch, rounds, deep=False)
            after = _rate(batch, rounds, deep=True)
            per_mib_ms = (1 / after - 1 / before) * 1000
            print(  # noqa: T201
                f"{record_bytes:>10} {codec.name:>6} {len(batch) // 1024:>9} {before:>13.0f} {after:>12.0f} "
                f"{per_mib_ms:>8.2f}ms"
            )


if __name__ == "__main__":
    main()
