"""Event-loop cost of hosting partitions: opening one (log + producer state) and taking leadership.

    python bench/partition_bench.py                 # 50 partitions of 2,000 idempotent batches each
    python bench/partition_bench.py --partitions 200 --batches 200

Prints, for N partitions on a fresh tmp dir: the time to open them after an unclean shutdown (what a
restarted broker's ReplicaManager does per partition: FileLog.open + Partition + producer state), the
time to open them again after a clean close, and the time `make_leader` takes for all of them (the
stall of a broker taking over N leaderships at once). All of it runs on the calling thread, as on the
broker's event loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from brook.common.clock import SystemClock
from brook.common.types import TopicPartition
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.testing.batches import make_batch


def _open(directory: Path, config: LogConfig, clock: SystemClock, *, clean: bool) -> Partition:
    log = FileLog.open(directory, config, clock=clock, recovery_point=0, had_clean_shutdown=clean)
    partition = Partition(
        TopicPartition(directory.name.rpartition("-")[0], 0), log, config, 1, 2, 1, (1, 2), (1, 2)
    )
    partition.rebuild_producer_state(clock.now_ms())
    return partition


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=50)
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    clock = SystemClock()
    config = LogConfig()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        root = Path(tmp)
        for p in range(args.partitions):
            log = FileLog.open(root / f"t{p}-0", config, clock=clock)
            for i in range(args.batches):
                batch = make_batch(
                    [(b"k", b"v" * 100)], producer_id=1000 + i % 50, producer_epoch=0, base_sequence=i // 50
                )
                log.append_as_follower(_at(batch, i))
            log.close_without_fsync()  # no clean-shutdown marker: the next open is unclean
        for clean in (False, True):
            start = time.perf_counter()
            partitions = [_open(root / f"t{p}-0", config, clock, clean=clean) for p in range(args.partitions)]
            opened = time.perf_counter() - start
            print(  # noqa: T201 - a benchmark's report
                f"open {'clean' if clean else 'unclean'}: {args.partitions} partitions x {args.batches} batches "
                f"in {opened * 1000:.1f} ms ({opened * 1000 / args.partitions:.2f} ms per partition)"
            )
            if clean:
                start = time.perf_counter()
                for partition in partitions:
                    partition.make_leader(2, (1, 2), (1, 2), clock.now_ms())
                took = time.perf_counter() - start
                print(  # noqa: T201 - a benchmark's report
                    f"make_leader: {args.partitions} partitions in {took * 1000:.1f} ms "
                    f"({took * 1000 / args.partitions:.2f} ms per partition) on the calling thread"
                )
            for partition in partitions:
                partition.log.close()


def _at(batch: bytearray, offset: int) -> bytearray:
    from brook.records.batch import set_base_offset, set_partition_leader_epoch

    set_base_offset(batch, 0, offset)
    set_partition_leader_epoch(batch, 0, 1)
    return batch


if __name__ == "__main__":
    main()
