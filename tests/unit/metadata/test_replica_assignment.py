"""Explicit replica assignments (CreateTopics, CreatePartitions) checked by Kafka's rules."""

import pytest

from brook.common.errors import ErrorCode, InvalidReplicaAssignment
from brook.metadata.assignment import check_new_partitions_assignment, check_replica_assignment


def test_a_valid_assignment_is_kept_as_given_even_naming_unregistered_brokers():
    # Kafka's ZooKeeper mode does not check that the brokers exist (TopicCommand's rule)
    assert check_replica_assignment({1: [9, 0], 0: [2, 1]}) == {0: (2, 1), 1: (9, 0)}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ({0: [0, 1], 2: [1, 0]}, "consecutive 0-based"),
        ({1: [0]}, "consecutive 0-based"),
        ({0: [0, 1], 1: [1]}, "same number of replicas"),
        ({0: [0, 0]}, "Duplicate brokers"),
        ({0: []}, "replication factor of 0"),
        ({}, "empty"),
    ],
)
def test_invalid_assignments_get_invalid_replica_assignment(assignment, message):
    with pytest.raises(InvalidReplicaAssignment, match=message) as raised:
        check_replica_assignment(assignment)
    assert raised.value.error_code == ErrorCode.invalid_replica_assignment


def test_new_partitions_are_numbered_after_the_existing_ones():
    got = check_new_partitions_assignment(
        [[1, 2], [2, 0]], current_count=3, total_count=5, replication_factor=2, brokers={0, 1, 2}
    )
    assert got == {3: (1, 2), 4: (2, 0)}


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        ([[1, 9]], "Unknown broker"),  # unlike CreateTopics, CreatePartitions wants registered brokers
        ([[1, 2], [2, 0]], "by 1 but 2 assignments"),
        ([[1, 1]], "Duplicate brokers"),
        ([[1]], "Inconsistent replication factor"),
        ([[]], "replication factor of 0"),
    ],
)
def test_invalid_new_partition_assignments(assignments, message):
    with pytest.raises(InvalidReplicaAssignment, match=message):
        check_new_partitions_assignment(
            assignments, current_count=1, total_count=2, replication_factor=2, brokers={0, 1, 2}
        )
