"""Leader and follower state of a partition: HW = min LEO over the ISR, never backwards; ISR shrink/expand
on a FakeClock; and a seeded simulation of three replicas with failovers."""

from __future__ import annotations

import random

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import NotEnoughReplicas
from brook.common.types import TopicPartition
from brook.metadata.zookeeper import elect_leader
from brook.replication.partition import Partition
from brook.storage.api import LogConfig
from brook.testing import MemoryLog, make_batch
from tests.unit.replication.fetching import replicate_once

TP = TopicPartition("t", 0)
LAG_MS = 1000


def _replica(node_id: int, leader: int = 0, isr: tuple[int, ...] = (0, 1, 2)) -> Partition:
    p = Partition(TP, MemoryLog(), LogConfig(), node_id, leader, 0, (0, 1, 2), isr)
    p.replica_lag_time_max_ms = LAG_MS
    if node_id == leader:
        p.make_leader(0, (0, 1, 2), isr, now_ms=0)
    else:
        p.make_follower(leader, 0, (0, 1, 2), isr, now_ms=0)
    return p


def _append(leader: Partition, n: int = 1, now_ms: int = 0) -> None:
    for _ in range(n):
        leader.append_as_leader(bytearray(make_batch([(None, b"v")])), now_ms)


def _replicate(leader: Partition, follower: Partition, now_ms: int) -> None:
    """One follower fetch through the real decisions: the leader judges it, reads and records the
    follower's position only if it was valid; the follower applies the answer (replica_manager.py and
    replica_fetcher.py do exactly these steps around the IO)."""
    replicate_once(leader, follower, now_ms)


def test_leader_high_watermark_waits_for_every_isr_member() -> None:
    leader, f1, f2 = _replica(0), _replica(1), _replica(2)
    _append(leader, 3)
    assert leader.log.high_watermark == 0
    _replicate(leader, f1, 0)
    _replicate(leader, f1, 0)
    assert leader.log.high_watermark == 0  # f2 has not fetched
    _replicate(leader, f2, 0)
    _replicate(leader, f2, 0)
    assert leader.log.high_watermark == 3
    assert f1.log.high_watermark <= 3


def test_follower_fetch_advances_high_watermark_but_never_backwards() -> None:
    leader, f1 = _replica(0, isr=(0, 1)), _replica(1, isr=(0, 1))
    _append(leader, 2)
    _replicate(leader, f1, 0)
    _replicate(leader, f1, 0)
    assert leader.log.high_watermark == 2
    assert not leader.record_follower_fetch(1, 1, 0)  # a stale, lower fetch offset
    assert leader.log.high_watermark == 2


def test_lagging_follower_leaves_the_isr_and_rejoins_when_caught_up() -> None:
    clock = FakeClock(0)
    leader, f1, f2 = _replica(0), _replica(1), _replica(2)
    _append(leader, 2)
    _replicate(leader, f1, clock.now_ms())
    _replicate(leader, f1, clock.now_ms())
    clock.advance(LAG_MS + 1)
    _replicate(leader, f1, clock.now_ms())
    assert leader.maybe_shrink_isr(clock.now_ms()) == (0, 1)
    leader.update_isr((0, 1, 2), (0, 1), clock.now_ms())
    assert leader.log.high_watermark == 2  # the shrink let the HW move
    assert leader.maybe_expand_isr(2) is None  # f2 still behind
    _replicate(leader, f2, clock.now_ms())
    _replicate(leader, f2, clock.now_ms())
    assert leader.maybe_expand_isr(2) == (0, 1, 2)


def test_follower_rejoins_only_past_the_new_leaders_epoch_start() -> None:
    leader, f1 = _replica(0, isr=(0, 2)), _replica(1, isr=(0, 2))
    _append(leader, 5)  # replica 2 had them (acknowledged); our HW has not heard yet
    leader.make_leader(1, (0, 1, 2), (0, 2), now_ms=0)
    assert leader.log.high_watermark == 0
    f1.make_follower(0, 1, (0, 1, 2), (0, 2), now_ms=0)
    leader.record_follower_fetch(1, 3, 0)
    assert leader.maybe_expand_isr(1) is None  # at the HW, but missing records of the old epoch
    leader.record_follower_fetch(1, 5, 0)
    assert leader.maybe_expand_isr(1) == (0, 2, 1)


def test_acks_all_refused_below_min_insync_replicas() -> None:
    leader = _replica(0, isr=(0,))
    leader.min_insync_replicas = 2
    with pytest.raises(NotEnoughReplicas):
        leader.check_enough_replicas()


def test_new_follower_truncates_where_its_log_diverges_from_the_new_leaders() -> None:
    old_leader, f1 = _replica(0, isr=(0, 1)), _replica(1, isr=(0, 1))
    _append(old_leader, 2)
    _replicate(old_leader, f1, 0)
    _replicate(old_leader, f1, 0)
    _append(old_leader, 3)  # epoch 0, never replicated
    f1.make_leader(1, (0, 1, 2), (1,), now_ms=0)
    _append(f1, 1)  # epoch 1 starts at offset 2
    old_leader.make_follower(1, 1, (0, 1, 2), (1,), now_ms=0)
    assert old_leader.log.log_end_offset == 5  # kept until the leader says where we diverge
    _replicate(f1, old_leader, 0)
    assert old_leader.log.log_end_offset == 2
    _replicate(f1, old_leader, 0)
    assert (
        old_leader.log.read(2, max_bytes=1 << 20).to_bytes() == f1.log.read(2, max_bytes=1 << 20).to_bytes()
    )


def test_elect_leader_prefers_live_isr_in_replica_order() -> None:
    assert elect_leader((0, 1, 2), 0, 4, (0, 1, 2), {1, 2}) == (1, 5, (1, 2))
    assert elect_leader((0, 1, 2), 0, 4, (0, 2), {1, 2}) == (2, 5, (2,))
    assert elect_leader((0, 1, 2), 0, 4, (0, 1, 2), {0, 1, 2}) is None
    assert elect_leader((0, 1, 2), 0, 4, (0, 1, 2), {0, 2}) == (0, 4, (0, 2))
    assert elect_leader((0, 1, 2), 0, 4, (0,), {1, 2}) == (-1, 5, (0,))  # no unclean election
    assert elect_leader((0, 1, 2), -1, 5, (0,), {0}) == (0, 6, (0,))


@pytest.mark.parametrize("seed", range(20))
def test_simulation_one_leader_per_epoch_hw_monotonic_committed_never_lost(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock(0)
    replicas = (0, 1, 2)
    nodes = {n: _replica(n) for n in replicas}
    live = set(replicas)
    leader_id, epoch, isr = 0, 0, replicas
    leaders_by_epoch: dict[int, int] = {0: 0}
    committed: list[bytes] = []  # the records below the highest HW a leader ever reported
    hw_seen = 0

    def apply_state() -> None:
        for n in live:
            p = nodes[n]
            if n == leader_id and (not p.is_leader or p.leader_epoch != epoch):
                p.make_leader(epoch, replicas, isr, clock.now_ms())
            elif n == leader_id:
                p.update_isr(replicas, isr, clock.now_ms())
            elif leader_id >= 0 and (p.is_leader or p.leader_epoch != epoch):
                p.make_follower(leader_id, epoch, replicas, isr, clock.now_ms())
            else:
                p.update_isr(replicas, isr, clock.now_ms())

    for _ in range(300):
        action = rng.random()
        if leader_id >= 0:
            leader = nodes[leader_id]
            hw_before = leader.log.high_watermark
            if action < 0.35:
                _append(leader, rng.randint(1, 3), clock.now_ms())
            elif action < 0.75:
                follower = nodes[rng.choice([n for n in live if n != leader_id] or [leader_id])]
                if follower is not leader:
                    _replicate(leader, follower, clock.now_ms())
                    if (expanded := leader.maybe_expand_isr(follower.node_id)) is not None:
                        isr = expanded
                        apply_state()
            elif action < 0.85:
                clock.advance(rng.randint(100, 1500))
                if (shrunk := leader.maybe_shrink_isr(clock.now_ms())) is not None:
                    isr = shrunk
                    apply_state()
            assert leader.log.high_watermark >= hw_before, "HW went backwards on a leader"
            if leader.log.high_watermark > hw_seen:
                hw_seen = leader.log.high_watermark
                committed = [leader.log.read(o, max_bytes=1).to_bytes() for o in range(hw_seen)]
        if action >= 0.85:
            if rng.random() < 0.5 and len(live) > 1:
                live.discard(rng.choice(sorted(live)))
            else:
                live.add(rng.choice(replicas))
            decision = elect_leader(replicas, leader_id, epoch, isr, live)
            if decision is not None:
                leader_id, epoch, isr = decision
                assert leaders_by_epoch.setdefault(epoch, leader_id) == leader_id, "two leaders in one epoch"
            apply_state()  # a restarted broker reads the partition state like everyone else
        if leader_id >= 0:
            log = nodes[leader_id].log
            assert log.log_end_offset >= hw_seen, "a committed record was lost"
            assert [log.read(o, max_bytes=1).to_bytes() for o in range(hw_seen)] == committed
    assert hw_seen > 0
    assert len(leaders_by_epoch) > 1
