"""The controller's pure decisions: replica placement, leader election, controlled shutdown, preferred leaders.

Plain functions of the partition state, called by the controller (and the unit tests) as they are.
A decision is `(leader, leader_epoch, isr)` for the partition's state znode, or None to leave it be.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

from brook.common.errors import InvalidReplicationFactor

__all__ = [
    "Decision",
    "PartitionView",
    "assign_replicas",
    "auto_rebalance_candidates",
    "elect_leader",
    "elect_leader_after_bounce",
    "initial_state",
    "leadership_predates_registration",
    "move_off",
    "preferred_leader",
    "unclean_leader",
]

Decision = tuple[int, int, tuple[int, ...]]
# (replicas, leader, isr) of one partition, as the controller last read its state znode
PartitionView = tuple[tuple[int, ...], int, tuple[int, ...]]
K = TypeVar("K", bound=Hashable)


def assign_replicas(
    brokers: list[int],
    num_partitions: int,
    replication_factor: int,
    *,
    start_index: int = 0,
    replica_shift: int = 0,
    first_partition: int = 0,
) -> dict[int, tuple[int, ...]]:
    """Rack-unaware placement in the manner of Kafka's AdminUtils.assignReplicasToBrokers.

    Partition p's first replica (its preferred leader) is broker (p + start_index) mod n; the followers step
    away from it by a shift that grows each time the partitions wrap around the broker list, so leaders and
    followers both spread evenly and no broker holds two replicas of one partition.
    """
    n = len(brokers)
    if replication_factor <= 0:
        raise InvalidReplicationFactor("Replication factor must be larger than 0.")
    if replication_factor > n:
        raise InvalidReplicationFactor(
            f"Replication factor: {replication_factor} larger than available brokers: {n}."
        )
    ordered = sorted(brokers)
    assignment: dict[int, tuple[int, ...]] = {}
    shift = replica_shift
    for p in range(first_partition, first_partition + num_partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start_index) % n
        replicas = [ordered[first]]
        for j in range(replication_factor - 1):
            # the followers never land on `first`: the step is 1..n-1
            replicas.append(ordered[(first + 1 + (shift + j) % (n - 1)) % n])
        assignment[p] = tuple(replicas)
    return assignment


def initial_state(replicas: tuple[int, ...], live: set[int]) -> Decision | None:
    """A new partition without a state znode (written by a tool that only writes the assignment, as Kafka's
    ZooKeeper-based admin tools do): Kafka's NewPartition -> OnlinePartition. The first live replica in
    assignment order leads in epoch 0 with the live replicas as ISR; None while no replica is alive."""
    live_replicas = tuple(r for r in replicas if r in live)
    if not live_replicas:
        return None
    return live_replicas[0], 0, live_replicas


def elect_leader(
    replicas: tuple[int, ...],
    leader: int,
    leader_epoch: int,
    isr: tuple[int, ...],
    live: set[int],
    *,
    unclean: bool = False,
) -> Decision | None:
    """The controller's decision for one partition: (leader, leader_epoch, isr), or None to leave it be.

    A live leader keeps its epoch; dead followers leave the ISR. A dead (or absent) leader is replaced by the
    first live ISR member in replica order, in a new epoch. No live ISR member: with `unclean`
    (unclean.leader.election.enable) the first live replica leads alone, accepting the loss of what only the
    ISR had; without it the partition goes offline (leader -1) and keeps its ISR, so only a replica that had
    every committed record can lead again.
    """
    live_isr = tuple(r for r in isr if r in live)
    if leader in live:
        if live_isr == isr:
            return None
        return leader, leader_epoch, live_isr
    candidates = [r for r in replicas if r in live_isr]
    if candidates:
        return candidates[0], leader_epoch + 1, live_isr
    if unclean:
        live_replicas = [r for r in replicas if r in live]
        if live_replicas:
            return live_replicas[0], leader_epoch + 1, (live_replicas[0],)
    return None if leader == -1 else (-1, leader_epoch + 1, isr)


def elect_leader_after_bounce(
    replicas: tuple[int, ...],
    leader: int,
    leader_epoch: int,
    isr: tuple[int, ...],
    live: set[int],
    bounced: set[int],
    *,
    unclean: bool = False,
) -> Decision | None:
    """A broker that re-registered since the last look (a restart the controller did not see as a gap) first
    counts as failed, then as started, as Kafka's controller does with bounced brokers: it leaves the ISR and
    any leadership moves in a new epoch, so its restarted process never leads on its old process's epoch."""
    current: Decision = (leader, leader_epoch, isr)
    changed = False
    for step_live in (live - bounced, live) if bounced & set(replicas) else (live,):
        decision = elect_leader(replicas, *current, step_live, unclean=unclean)
        if decision is not None:
            current, changed = decision, True
    return current if changed else None


def leadership_predates_registration(leader: int, state_zxid: int, registration_zxid: int | None) -> bool:
    """Whether a partition's leadership was granted to an earlier run of its leader: the state znode was last
    written (`state_zxid`, its mzxid) before the leader's current /brokers/ids registration was created
    (`registration_zxid`, its czxid; None: not registered). Kafka tells a broker's runs apart by the same
    number (the broker epoch). The controller then counts the leader as bounced and elects in a new epoch; the
    restarted broker does not lead on it meanwhile, since it cannot know what its previous run acknowledged
    (KIP-101's and KAFKA-7235's reasoning): its old epoch's followers may hold less than its log, and acks
    computed from a high watermark it did not see rise would be acks for records no follower has."""
    return leader >= 0 and registration_zxid is not None and state_zxid < registration_zxid


def move_off(
    replicas: tuple[int, ...],
    leader: int,
    leader_epoch: int,
    isr: tuple[int, ...],
    leaving: int,
    live: set[int],
) -> Decision | None:
    """Controlled shutdown of broker `leaving` (Kafka's ControlledShutdownLeaderElection).

    A partition it leads goes to the first live ISR member in replica order other than `leaving`, in a new
    epoch; it leaves every ISR it is in. None: nothing to change, or nobody to hand the partition to (it
    keeps leading until it stops; the controller then takes the partition offline or elects as usual).
    """
    if leaving not in isr and leader != leaving:
        return None
    remaining = tuple(r for r in isr if r != leaving)
    if leader == leaving:
        candidates = [r for r in replicas if r in remaining and r in live]
        if not candidates:
            return None
        return candidates[0], leader_epoch + 1, remaining
    if not remaining:
        return None
    return leader, leader_epoch, remaining


def preferred_leader(
    replicas: tuple[int, ...], leader: int, leader_epoch: int, isr: tuple[int, ...], live: set[int]
) -> Decision | None:
    """Kafka's preferred replica election: the first assigned replica leads again, in a new epoch, if it is
    alive and in the ISR (so it has every committed record); the ISR is unchanged. None when it already leads
    or cannot lead."""
    if not replicas:
        return None
    preferred = replicas[0]
    if preferred == leader or preferred not in live or preferred not in isr:
        return None
    return preferred, leader_epoch + 1, isr


def unclean_leader(
    replicas: tuple[int, ...], leader: int, leader_epoch: int, isr: tuple[int, ...], live: set[int]
) -> Decision | None:
    """An operator's unclean election (ElectLeaders UNCLEAN) for a partition without a live leader: a live ISR
    member if there is one, else the first live replica alone, accepting the loss of what only the ISR had.
    None when the leader is alive or no replica is."""
    if leader in live:
        return None
    return elect_leader(replicas, leader, leader_epoch, isr, live, unclean=True)


def auto_rebalance_candidates(
    partitions: Mapping[K, PartitionView], live: set[int], imbalance_percentage: int
) -> list[K]:
    """Kafka's auto leader rebalance (auto.leader.rebalance.enable): for each broker, the share of the partitions
    it is the preferred leader of (first assigned replica) that another broker leads; above
    leader.imbalance.per.broker.percentage, every one of those whose preferred replica can lead (alive, in the
    ISR) gets a preferred election. Returns the keys of those partitions."""
    preferred_of: dict[int, list[K]] = {}
    for key, (replicas, _leader, _isr) in partitions.items():
        if replicas:
            preferred_of.setdefault(replicas[0], []).append(key)
    candidates: list[K] = []
    for broker, keys in preferred_of.items():
        elsewhere = [k for k in keys if partitions[k][1] != broker]
        if len(elsewhere) / len(keys) <= imbalance_percentage / 100:
            continue
        for key in elsewhere:
            replicas, leader, isr = partitions[key]
            if preferred_leader(replicas, leader, 0, isr, live) is not None:
                candidates.append(key)
    return candidates
