"""Event-loop time of ReplicaManager.sync_with when a broker takes over N leaderships, and of opening N.

    python bench/takeover_bench.py 200

Runs the broker's own ReplicaManager over a LogManager in a tmp dir under the current directory: opens
N partitions as leader, appends a record to each, becomes follower (epoch 2), flushes, then takes every
leadership back (epoch 3); the last step is what a broker's event loop does when it takes over N
partitions from a failed leader.
"""

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from brook.broker.replica_manager import ReplicaManager
from brook.common.clock import SystemClock
from brook.metadata.api import PartitionState, TopicState
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager
from brook.testing.batches import make_batch

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200


async def main() -> None:
    clock = SystemClock()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        replicas = ReplicaManager(0, LogManager([Path(tmp)], clock), clock)
        ids = {f"t{i}": uuid.uuid4() for i in range(N)}

        def topics(leader, epoch):
            return {
                t: TopicState(t, ids[t], {0: PartitionState(0, (0, 1), leader, epoch, (0, 1))}) for t in ids
            }

        configs = {t: LogConfig() for t in ids}
        start = time.perf_counter()
        replicas.sync_with(topics(0, 1), configs)
        opened = time.perf_counter() - start
        for p in replicas.partitions.values():
            p.append_as_leader(bytearray(make_batch([(b"k", b"v")])), clock.now_ms())
        replicas.sync_with(topics(1, 2), configs)  # follower now
        replicas.log_manager.flush_all()
        start = time.perf_counter()
        replicas.sync_with(topics(0, 3), configs)  # takes every leadership back
        took = time.perf_counter() - start
        print(  # noqa: T201 - a benchmark's report
            f"N={N}: open+lead {opened * 1000:.0f} ms ({opened * 1000 / N:.2f} ms/partition); takeover {took * 1000:.0f} ms ({took * 1000 / N:.2f} ms/partition)"
        )
        await replicas.fetchers.close()
        replicas.close()
        replicas.log_manager.close()


asyncio.run(main())
