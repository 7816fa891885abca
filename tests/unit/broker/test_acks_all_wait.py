"""acks=all waits (ReplicaManager.replication_check / wait_for) on a real ReplicaManager and log: a wait that
starts after its outcome was decided ends at once, instead of parking until the request's timeout."""

import asyncio
import uuid
from pathlib import Path

from brook.broker.replica_manager import FetchPartition, ReplicaManager
from brook.common.clock import FakeClock
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.metadata.api import PartitionState, TopicState
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager
from brook.testing import make_batch

TP = TopicPartition("t", 0)
TOPIC_ID = uuid.UUID(int=7)
RECORDS = 20


def leader_with_follower(tmp_path: Path, leader_epoch: int = 1) -> ReplicaManager:
    """Broker 0 leads t-0 with broker 1 in the ISR, and has just appended RECORDS records no follower has."""
    clock = FakeClock()
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock)
    state = PartitionState(0, (0, 1), 0, leader_epoch, (0, 1))
    replicas.sync_with({"t": TopicState("t", TOPIC_ID, {0: state})}, {"t": LogConfig()})
    replicas.partitions[TP].log.append_as_leader(
        make_batch([(b"k", b"v")] * RECORDS), leader_epoch=leader_epoch
    )
    return replicas


async def follower_fetch(replicas: ReplicaManager, offset: int) -> None:
    """Broker 1's fetch from `offset` (what its log ends at), answered at once."""
    wanted = [FetchPartition(TP, offset, 1 << 20, 1)]
    (result,) = await replicas.fetch(
        wanted, min_bytes=0, max_bytes=1 << 20, max_wait_ms=0, from_follower=True, replica_id=1
    )
    assert result.error_code == 0


async def test_a_wait_started_after_the_follower_caught_up_ends_at_once(tmp_path: Path) -> None:
    replicas = leader_with_follower(tmp_path)
    check = replicas.replication_check([(TP, RECORDS)])
    assert check.pending == {TP: RECORDS}  # the follower has nothing yet
    # before the task that waits runs, the follower fetches everything and comes back for more: the HW
    # reaches the end with nobody parked to be woken
    await follower_fetch(replicas, 0)
    await follower_fetch(replicas, RECORDS)
    assert replicas.partitions[TP].log.high_watermark == RECORDS
    failed = await asyncio.wait_for(replicas.wait_for(check, timeout_ms=30_000), timeout=5)
    assert failed == {}
    replicas.close()


async def test_a_wait_started_after_leadership_moved_fails_at_once(tmp_path: Path) -> None:
    replicas = leader_with_follower(tmp_path)
    check = replicas.replication_check([(TP, RECORDS)])
    assert check.pending == {TP: RECORDS}
    # broker 1 leads now, in a later epoch
    moved = PartitionState(0, (0, 1), 1, 2, (0, 1))
    replicas.sync_with({"t": TopicState("t", TOPIC_ID, {0: moved})}, {"t": LogConfig()})
    failed = await asyncio.wait_for(replicas.wait_for(check, timeout_ms=30_000), timeout=5)
    assert failed == {TP: ErrorCode.not_leader_or_follower}
    replicas.close()


async def test_a_wait_for_a_follower_that_never_fetches_times_out_with_request_timed_out(
    tmp_path: Path,
) -> None:
    replicas = leader_with_follower(tmp_path)
    check = replicas.replication_check([(TP, RECORDS)])
    failed = await replicas.wait_for(check, timeout_ms=50)
    assert failed == {TP: ErrorCode.request_timed_out}
    replicas.close()
