"""Explicit replica assignments (CreateTopics' `assignments`, CreatePartitions' `assignments`), checked by
Kafka's rules before any store writes them. Pure functions: the stores and the unit tests call them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from brook.common.errors import InvalidReplicaAssignment

__all__ = ["check_new_partitions_assignment", "check_replica_assignment"]


def check_replica_assignment(assignment: Mapping[int, Sequence[int]]) -> dict[int, tuple[int, ...]]:
    """A CreateTopics request's explicit assignment, checked as Kafka's AdminZkClient.validateTopicCreate does.

    Partitions numbered 0..n-1, every partition with the same number of replicas, no broker twice in one
    partition. As in Kafka's ZooKeeper mode, brokers need not be registered (TopicCommand's rule): a partition
    whose replicas are all down stays offline until one of them starts.
    """
    if not assignment:
        raise InvalidReplicaAssignment("The replica assignment is empty.")
    if sorted(assignment) != list(range(len(assignment))):
        raise InvalidReplicaAssignment("partitions should be a consecutive 0-based integer sequence")
    sizes = {len(replicas) for replicas in assignment.values()}
    if len(sizes) != 1:
        raise InvalidReplicaAssignment("All partitions should have the same number of replicas")
    if 0 in sizes:
        raise InvalidReplicaAssignment("Cannot have replication factor of 0.")
    for p, replicas in sorted(assignment.items()):
        if len(set(replicas)) != len(replicas):
            raise InvalidReplicaAssignment(
                f"Duplicate brokers not allowed in replica assignment: {list(replicas)} for partition id {p}."
            )
    return {p: tuple(replicas) for p, replicas in sorted(assignment.items())}


def check_new_partitions_assignment(
    assignments: Sequence[Sequence[int]],
    *,
    current_count: int,
    total_count: int,
    replication_factor: int,
    brokers: set[int],
) -> dict[int, tuple[int, ...]]:
    """CreatePartitions' explicit assignments for the new partitions (Kafka's ZkAdminManager.createPartitions
    and AdminZkClient.validateReplicaAssignment): registered brokers only, one assignment per new partition,
    the topic's replication factor, no broker twice."""
    unknown = sorted({b for replicas in assignments for b in replicas} - brokers)
    if unknown:
        raise InvalidReplicaAssignment(
            f"Unknown broker(s) in replica assignment: {', '.join(str(b) for b in unknown)}."
        )
    increment = total_count - current_count
    if len(assignments) != increment:
        raise InvalidReplicaAssignment(
            f"Increasing the number of partitions by {increment} but {len(assignments)} assignments provided."
        )
    result: dict[int, tuple[int, ...]] = {}
    for index, replicas in enumerate(assignments):
        p = current_count + index
        if not replicas:
            raise InvalidReplicaAssignment(f"Cannot have replication factor of 0 for partition id {p}.")
        if len(set(replicas)) != len(replicas):
            raise InvalidReplicaAssignment(
                f"Duplicate brokers not allowed in replica assignment: "
                f"{', '.join(str(b) for b in replicas)} for partition id {p}."
            )
        if len(replicas) != replication_factor:
            raise InvalidReplicaAssignment(
                f"Inconsistent replication factor between partitions, partition 0 has {replication_factor} "
                f"while partition {p} has {len(replicas)}."
            )
        result[p] = tuple(replicas)
    return result
