"""The leader-epoch-checkpoint is written without fsync on the event loop: after leaders are SIGKILLed in
turn (so epochs change), every replica's file still describes its log, batch header by batch header."""

from __future__ import annotations

import pytest

from brook.common.clock import SystemClock
from brook.storage.checkpoint import LEADER_EPOCH_CHECKPOINT, read_epoch_checkpoint
from brook.storage.log import FileLog
from tests.cluster.faults import Cluster, produce_acked
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

FAST = {
    "zookeeper.session.timeout.ms": "4000",
    "replica.lag.time.max.ms": "6000",
    "offsets.topic.replication.factor": "1",
}


def _epochs_from_headers(log: FileLog) -> list[tuple[int, int]]:
    entries: list[tuple[int, int]] = []
    for header in log.batch_headers(log.log_start_offset):
        if not entries or header.partition_leader_epoch > entries[-1][0]:
            entries.append((header.partition_leader_epoch, header.base_offset))
    return entries


def test_epoch_files_match_the_logs_after_leaders_are_killed_in_turn(zookeeper, zk, tmp_path):
    cluster = Cluster(zookeeper, zk, tmp_path, 2, **FAST).start()
    try:
        cluster.create_topic("epochs", 2, **{"min.insync.replicas": "1"})
        values: list[bytes] = []
        for round_ in range(3):
            batch = [b"r%d-%03d" % (round_, i) for i in range(40)]
            assert len(produce_acked(cluster.bootstrap(), "epochs", batch)) == 40
            values += batch
            state = cluster.state("epochs")
            wait_until(lambda: sorted(cluster.state("epochs")["isr"]) == [0, 1], timeout_s=60)
            cluster.brokers[state["leader"]].kill()  # its epoch file was never fsynced
            cluster.wait_new_leader("epochs", state["leader_epoch"])
            cluster.restart_when_deregistered(state["leader"])
        wait_until(lambda: sorted(cluster.state("epochs")["isr"]) == [0, 1], timeout_s=60)
        for broker in cluster.brokers:
            broker.kill()
    finally:
        cluster.stop()
    seen_epochs = set()
    for directory in cluster.dirs:
        on_disk = read_epoch_checkpoint(directory / "epochs-0" / LEADER_EPOCH_CHECKPOINT)
        log = FileLog.open(directory / "epochs-0", clock=SystemClock(), had_clean_shutdown=True)  # no rebuild
        try:
            assert log.log_end_offset == len(values)
            expected = _epochs_from_headers(log)
            assert [e for e in on_disk if e[1] < log.log_end_offset] == expected
            seen_epochs.update(epoch for epoch, _ in expected)
        finally:
            log.close()
    assert len(seen_epochs) >= 3  # the leaders really changed while records were written
