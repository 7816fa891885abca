"""Storage benchmark: FileLog against plain sequential file I/O on the same disk, in the same run.

    python bench/storage_bench.py            # 512 MiB append/read, 1 GiB recovery
    python bench/storage_bench.py --smoke    # a couple of seconds, small sizes

Figures: append throughput of 1 MiB batches vs os.write of the same bytes (target >= 80 %), read back
through FileSlice.read_bytes vs os.pread in 1 MiB chunks (target >= 80 %), and the time to open a 1 GiB
log after a crash when the recovery point is at the active segment (target <= 5 s). Page cache is warm
for both sides of each comparison; neither side fsyncs inside the timed loop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from brook.common.clock import SystemClock
from brook.records.batch import Compression, iter_batches
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.testing.batches import make_batch

MIB = 1024 * 1024


def _batch(payload_bytes: int) -> bytearray:
    return make_batch([(b"key", os.urandom(payload_bytes))], compression=Compression.none)


def _time_plain_write(path: Path, buffers: list[bytearray]) -> float:
    path.unlink(missing_ok=True)
    os.sync()  # no writeback of the previous round running under this one
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    start = time.perf_counter()
    for buf in buffers:
        os.write(fd, buf)
    elapsed = time.perf_counter() - start
    os.close(fd)
    return elapsed


def _time_log_append(directory: Path, buffers: list[bytearray]) -> float:
    shutil.rmtree(directory, ignore_errors=True)
    log = FileLog.open(directory, LogConfig(), clock=SystemClock())
    # The first append of a leader epoch fsyncs leader-epoch-checkpoint once; keep that out of the loop.
    log.append_as_leader(_batch(10), leader_epoch=0)
    os.sync()
    start = time.perf_counter()
    for buf in buffers:
        log.append_as_leader(buf, leader_epoch=0)
    elapsed = time.perf_counter() - start
    log.close()
    return elapsed


def bench_append(workdir: Path, total_bytes: int, batch_bytes: int, rounds: int) -> tuple[float, float]:
    """Best of `rounds`, alternating sides, so page-cache warm-up does not favour either."""
    template = _batch(batch_bytes)
    count = total_bytes // len(template)
    buffers = [bytearray(template) for _ in range(count)]
    written = count * len(template)
    plain_s, log_s = [], []
    for _ in range(rounds):
        plain_s.append(_time_plain_write(workdir / "plain.bin", buffers))
        log_s.append(_time_log_append(workdir / "bench-0", buffers))
    return written / min(plain_s), written / min(log_s)


def _time_plain_read(path: Path, chunk: int) -> tuple[float, int]:
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    start = time.perf_counter()
    position = 0
    while position < size:
        position += len(os.pread(fd, chunk, position))
    elapsed = time.perf_counter() - start
    os.close(fd)
    return elapsed, size


def _time_log_read(directory: Path, max_bytes: int) -> tuple[float, int]:
    log = FileLog.open(directory, LogConfig(), clock=SystemClock(), had_clean_shutdown=True)
    start = time.perf_counter()
    offset, total = 0, 0
    while offset < log.log_end_offset:
        result = log.read(offset, max_bytes=max_bytes)
        for chunk in result.chunks:
            data = chunk if isinstance(chunk, bytes) else chunk.read_bytes()
            total += len(data)
            for _, header in iter_batches(data):
                offset = header.next_offset
    elapsed = time.perf_counter() - start
    log.close()
    return elapsed, total


def bench_read(workdir: Path, batch_bytes: int, rounds: int) -> tuple[float, float]:
    plain, logged = [], []
    for _ in range(rounds):
        plain.append(_time_plain_read(workdir / "plain.bin", batch_bytes + 100))
        logged.append(_time_log_read(workdir / "bench-0", batch_bytes))
    return plain[0][1] / min(p[0] for p in plain), logged[0][1] / min(x[0] for x in logged)


def bench_recovery(workdir: Path, total_bytes: int, segment_bytes: int) -> tuple[float, int, int]:
    directory = workdir / "recover-0"
    config = LogConfig(segment_bytes=segment_bytes)
    log = FileLog.open(directory, config, clock=SystemClock())
    template = _batch(MIB - 100)
    for _ in range(total_bytes // len(template)):
        log.append_as_leader(bytearray(template), leader_epoch=0)
    recovery_point = log.recovery_point  # advanced by the fsync at each roll
    for segment in log.segments:  # crash: no trim, no flush, no checkpoint
        segment.close()
    start = time.perf_counter()
    reopened = FileLog.open(directory, config, clock=SystemClock(), recovery_point=recovery_point)
    elapsed = time.perf_counter() - start
    size = reopened.size_bytes
    scanned = sum(
        s.size for s in reopened.segments if s.base_offset >= recovery_point or s is reopened.segments[-1]
    )
    reopened.close()
    return elapsed, size, scanned


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes, a couple of seconds")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    append_bytes = 128 * MIB if args.smoke else 512 * MIB
    recovery_bytes = 64 * MIB if args.smoke else 1024 * MIB
    segment_bytes = 16 * MIB if args.smoke else 256 * MIB
    batch_bytes = MIB
    rounds = 5

    workdir = Path(tempfile.mkdtemp(prefix="brook-bench-", dir=args.dir))
    out = sys.stdout
    try:
        plain_w, log_w = bench_append(workdir, append_bytes, batch_bytes, rounds)
        out.write(
            f"append 1 MiB batches: plain {plain_w / MIB:8.0f} MiB/s  FileLog {log_w / MIB:8.0f} MiB/s  "
            f"ratio {log_w / plain_w:6.1%}  (target >= 80%)\n"
        )
        plain_r, log_r = bench_read(workdir, batch_bytes, rounds)
        out.write(
            f"read back:            plain {plain_r / MIB:8.0f} MiB/s  FileLog {log_r / MIB:8.0f} MiB/s  "
            f"ratio {log_r / plain_r:6.1%}  (target >= 80%)\n"
        )
        elapsed, size, scanned = bench_recovery(workdir, recovery_bytes, segment_bytes)
        out.write(
            f"recovery after crash: {size / MIB:.0f} MiB log, {scanned / MIB:.0f} MiB scanned past the recovery "
            f"point, {elapsed:.2f} s  (target <= 5 s)\n"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
