"""ReplicaManager's ISR proposals: written off the event loop, one in flight per partition, applied only if taken."""

import asyncio
import uuid
from pathlib import Path

from brook.broker.replica_manager import FetchPartition, ReplicaManager
from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.metadata.api import BrokerInfo, PartitionState, TopicState
from brook.storage.api import LogConfig
from brook.storage.manager import LogManager
from brook.testing import make_batch

TP = TopicPartition("t", 0)


def leader_of_two(tmp_path: Path, clock: FakeClock) -> ReplicaManager:
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock, replica_lag_time_max_ms=1000)
    topic = TopicState("t", uuid.uuid4(), {0: PartitionState(0, (0, 1), 0, 3, (0, 1))})
    replicas.sync_with({"t": topic}, {"t": LogConfig()})
    return replicas


async def test_a_partition_has_one_isr_proposal_in_flight_and_applies_it_once_taken(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = leader_of_two(tmp_path, clock)
    proposals: list[tuple[TopicPartition, int, tuple[int, ...]]] = []
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def writer(tp: TopicPartition, leader_epoch: int, isr: tuple[int, ...]) -> bool:
        proposals.append((tp, leader_epoch, isr))
        return await answer

    replicas.isr_writer = writer
    clock.advance(5000)  # follower 1 has not fetched for longer than replica.lag.time.max.ms
    replicas.maybe_shrink_isrs()
    replicas.maybe_shrink_isrs()  # the first is still in flight: no second proposal
    await asyncio.sleep(0)
    assert proposals == [(TP, 3, (0,))]
    assert replicas.partitions[TP].isr == (0, 1)  # not applied before the store took it
    answer.set_result(True)
    for _ in range(3):
        await asyncio.sleep(0)
    assert replicas.partitions[TP].isr == (0,)
    replicas.close()


async def test_a_refused_isr_proposal_is_not_applied_and_may_be_made_again(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = leader_of_two(tmp_path, clock)
    answers = [False, True]
    proposals: list[tuple[int, ...]] = []

    async def writer(_tp: TopicPartition, _leader_epoch: int, isr: tuple[int, ...]) -> bool:
        proposals.append(isr)
        return answers.pop(0)

    replicas.isr_writer = writer
    clock.advance(5000)
    replicas.maybe_shrink_isrs()
    for _ in range(3):
        await asyncio.sleep(0)
    assert replicas.partitions[TP].isr == (0, 1)  # the compare-and-set lost: nothing applied
    replicas.maybe_shrink_isrs()
    for _ in range(3):
        await asyncio.sleep(0)
    assert proposals == [(0,), (0,)]
    assert replicas.partitions[TP].isr == (0,)
    replicas.close()


async def test_only_a_registered_broker_is_taken_back_into_the_isr(tmp_path: Path) -> None:
    clock = FakeClock()
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock, replica_lag_time_max_ms=1000)
    topic = TopicState("t", uuid.uuid4(), {0: PartitionState(0, (0, 1), 0, 3, (0,))})
    proposals: list[tuple[int, ...]] = []

    async def writer(_tp: TopicPartition, _leader_epoch: int, isr: tuple[int, ...]) -> bool:
        proposals.append(isr)
        return True

    replicas.isr_writer = writer
    caught_up = [FetchPartition(TP, 0, 1024, current_leader_epoch=3)]

    async def follower_fetch() -> None:
        await replicas.fetch(
            caught_up, min_bytes=0, max_bytes=1024, max_wait_ms=0, from_follower=True, replica_id=1
        )
        for _ in range(3):
            await asyncio.sleep(0)

    # broker 1 fetches but has no live registration (cut off from ZooKeeper): it stays out
    replicas.sync_with({"t": topic}, {"t": LogConfig()}, brokers={0: BrokerInfo(0, "h", 1)})
    await follower_fetch()
    assert proposals == []
    # registered again: the next caught-up fetch takes it back
    brokers = {0: BrokerInfo(0, "h", 1), 1: BrokerInfo(1, "h", 2)}
    replicas.sync_with({"t": topic}, {"t": LogConfig()}, brokers=brokers)
    await follower_fetch()
    assert proposals == [(0, 1)]
    assert replicas.partitions[TP].isr == (0, 1)
    await replicas.fetchers.close()
    replicas.close()


async def test_an_isr_expansion_without_an_answer_stays_in_flight_until_the_store_answers(
    tmp_path: Path,
) -> None:
    """The write may have been committed (ZooKeeper paused right after it, the answer never came): the
    controller may elect the new member, so the HW keeps waiting for it and the proposal is asked again. A chaos
    run lost 48 acknowledged records when a leader dropped such a proposal and moved the HW without the member."""
    clock = FakeClock()
    replicas = ReplicaManager(0, LogManager([tmp_path], clock), clock, replica_lag_time_max_ms=1000)
    topic = TopicState("t", uuid.uuid4(), {0: PartitionState(0, (0, 1), 0, 3, (0,))})
    replicas.sync_with({"t": topic}, {"t": LogConfig()})
    answered = asyncio.Event()
    proposals: list[tuple[int, ...]] = []

    async def writer(_tp: TopicPartition, _leader_epoch: int, isr: tuple[int, ...]) -> bool:
        proposals.append(isr)
        if not answered.is_set():
            raise ConnectionError("zookeeper connection lost")
        return True

    replicas.isr_writer = writer
    await replicas.fetch(
        [FetchPartition(TP, 0, 1024, current_leader_epoch=3)],
        min_bytes=0,
        max_bytes=1024,
        max_wait_ms=0,
        from_follower=True,
        replica_id=1,
    )
    partition = replicas.partitions[TP]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(proposals) < 2 and loop.time() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0.01)
    assert proposals[:2] == [(0, 1), (0, 1)]  # no answer: asked again
    assert partition.isr == (0,)
    assert partition.maximal_isr == (0, 1)  # still in flight: the HW waits for replica 1
    partition.append_as_leader(bytearray(make_batch([(None, b"v")])), now_ms=0)
    partition.maybe_increment_high_watermark()
    assert partition.log.high_watermark == 0  # replica 1 has not fetched it
    answered.set()
    while partition.isr != (0, 1) and loop.time() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0.01)
    assert partition.isr == (0, 1)
    assert partition.pending_isr is None
    await replicas.fetchers.close()
    replicas.close()
