"""Event-loop cost of hosting partitions: opening one (log + producer state) and taking leadership.

    python bench/partition_bench.py                 # 50 partitions of 2,000 idempotent batches each
    python bench/partition_bench.py --partitions 200 --batches 200

For N partitions in a tmp dir under the current directory, all on the calling thread (as on the broker's
event loop): the log open and the producer state replay after an unclean shutdown; the same after a clean
close that wrote the dir's `producer-snapshots` (what ReplicaManager does); and `make_leader` for all N (the stall of
a broker taking over N leaderships at once).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from brook.common.clock import SystemClock
from brook.common.types import TopicPartition
from brook.records.batch import set_base_offset, set_partition_leader_epoch
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.storage.producer_snapshot import (
    encode_producer_state,
    read_producer_snapshots,
    restore_producer_state,
    write_producer_snapshots,
)
from brook.testing.batches import make_batch


def _report(what: str, seconds: float, count: int) -> None:
    print(f"{what}: {seconds * 1000:.1f} ms for {count} ({seconds * 1000 / count:.2f} ms each)")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=50)
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    clock = SystemClock()
    config = LogConfig()
    now_ms = clock.now_ms()  # recent records: the producer state replay reads every batch header
    n = args.partitions
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        dirs = [Path(tmp) / f"t{p}-0" for p in range(n)]
        for directory in dirs:
            log = FileLog.open(directory, config, clock=clock)
            for i in range(args.batches):
                batch = make_batch(
                    [(b"k", b"v" * 100)], producer_id=1000 + i % 50, producer_epoch=0, base_sequence=i // 50,
                    timestamp=now_ms,
                )  # fmt: skip
                set_base_offset(batch, 0, i)
                set_partition_leader_epoch(batch, 0, 1)
                log.append_as_follower(batch)
            log.close_without_fsync()
        print(f"{n} partitions x {args.batches} idempotent batches")  # noqa: T201
        for clean in (False, True):
            label = "clean (snapshot)" if clean else "unclean (replay)"
            start = time.perf_counter()
            logs = [
                FileLog.open(d, config, clock=clock, recovery_point=0, had_clean_shutdown=clean) for d in dirs
            ]
            _report(f"  {label} log open", time.perf_counter() - start, n)
            start = time.perf_counter()
            partitions = []
            snapshots = read_producer_snapshots(Path(tmp))
            for log in logs:
                partition = Partition(TopicPartition(log.tp.topic, 0), log, config, 1, 2, 1, (1, 2), (1, 2))
                saved = restore_producer_state(
                    snapshots.get(log.directory.name), log.log_end_offset, 86_400_000
                )
                if saved is not None:
                    partition.producer_state = saved
                else:
                    partition.rebuild_producer_state(clock.now_ms())
                partitions.append(partition)
            _report(f"  {label} producer state", time.perf_counter() - start, n)
            if clean:
                start = time.perf_counter()
                for partition in partitions:
                    partition.make_leader(2, (1, 2), (1, 2), clock.now_ms())
                _report("  make_leader", time.perf_counter() - start, n)
            entries = {
                p.log.directory.name: encode_producer_state(p.log.log_end_offset, p.producer_state)
                for p in partitions
            }
            write_producer_snapshots(Path(tmp), entries)
            for partition in partitions:
                partition.log.close()


if __name__ == "__main__":
    main()
