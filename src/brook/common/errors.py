"""The BrookError tree: typed errors inside, Kafka error codes at the protocol edge."""

from typing import ClassVar

from kio.schema.errors import ErrorCode

__all__ = [
    "BrookError",
    "CorruptMessage",
    "ErrorCode",
    "InvalidPartitions",
    "InvalidRecord",
    "InvalidTimestamp",
    "InvalidReplicationFactor",
    "InvalidReplicaAssignment",
    "InvalidRequest",
    "InvalidTopic",
    "InvalidConfig",
    "LogDirOffline",
    "MessageTooLarge",
    "NotLeaderOrFollower",
    "OffsetOutOfRange",
    "TopicAlreadyExists",
    "UnknownTopicOrPartition",
    "UnsupportedCompressionType",
    "OutOfOrderSequence",
    "DuplicateSequence",
    "InvalidProducerEpoch",
    "UnknownProducerId",
    "PolicyViolation",
    "NotEnoughReplicas",
    "OutOfDescriptors",
    "FencedLeaderEpoch",
    "UnknownLeaderEpoch",
]


class BrookError(Exception):
    """Base of every error brook raises on purpose; `error_code` is what the client sees."""

    error_code: ClassVar[ErrorCode] = ErrorCode.unknown_server_error
    # Produce v8+: the records a batch was rejected for, as (batch_index, message) (Kafka's RecordError)
    record_errors: tuple[tuple[int, str | None], ...] = ()


class CorruptMessage(BrookError):
    error_code = ErrorCode.corrupt_message


class InvalidRecord(BrookError):
    error_code = ErrorCode.invalid_record


class InvalidTimestamp(BrookError):
    error_code = ErrorCode.invalid_timestamp


class MessageTooLarge(BrookError):
    error_code = ErrorCode.message_too_large


class UnsupportedCompressionType(BrookError):
    error_code = ErrorCode.unsupported_compression_type


class UnknownTopicOrPartition(BrookError):
    error_code = ErrorCode.unknown_topic_or_partition


class NotLeaderOrFollower(BrookError):
    error_code = ErrorCode.not_leader_or_follower


class OffsetOutOfRange(BrookError):
    error_code = ErrorCode.offset_out_of_range


class InvalidTopic(BrookError):
    error_code = ErrorCode.invalid_topic_exception


class TopicAlreadyExists(BrookError):
    error_code = ErrorCode.topic_already_exists


class InvalidPartitions(BrookError):
    error_code = ErrorCode.invalid_partitions


class InvalidReplicationFactor(BrookError):
    error_code = ErrorCode.invalid_replication_factor


class InvalidReplicaAssignment(BrookError):
    error_code = ErrorCode.invalid_replica_assignment


class InvalidConfig(BrookError):
    error_code = ErrorCode.invalid_config


class InvalidRequest(BrookError):
    error_code = ErrorCode.invalid_request


class PolicyViolation(BrookError):
    error_code = ErrorCode.policy_violation


class OutOfDescriptors(BrookError):
    """EMFILE/ENFILE: no file descriptor to spare right now. Not a disk fault: the log dir stays online and
    the client retries (KAFKA_STORAGE_ERROR is retriable in Kafka's clients)."""

    error_code = ErrorCode.kafka_storage_error


class LogDirOffline(BrookError):
    """A log dir failed with an OSError; its partitions answer KAFKA_STORAGE_ERROR until restart."""

    error_code = ErrorCode.kafka_storage_error


class OutOfOrderSequence(BrookError):
    error_code = ErrorCode.out_of_order_sequence_number


class DuplicateSequence(BrookError):
    error_code = ErrorCode.duplicate_sequence_number


class InvalidProducerEpoch(BrookError):
    error_code = ErrorCode.invalid_producer_epoch


class UnknownProducerId(BrookError):
    error_code = ErrorCode.unknown_producer_id


class NotEnoughReplicas(BrookError):
    """acks=all while the ISR is smaller than min.insync.replicas (checked before the append)."""

    error_code = ErrorCode.not_enough_replicas


class RequestTimedOut(BrookError):
    """The request's work did not complete in time (a ZooKeeper write waiting on an unreachable ensemble)."""

    error_code = ErrorCode.request_timed_out


class TopicDeletionDisabled(BrookError):
    """DeleteTopics while delete.topic.enable is false."""

    error_code = ErrorCode.topic_deletion_disabled


class FencedLeaderEpoch(BrookError):
    """The request's current leader epoch is older than ours (KIP-320)."""

    error_code = ErrorCode.fenced_leader_epoch


class UnknownLeaderEpoch(BrookError):
    """The request's current leader epoch is newer than ours: we have not heard of it yet."""

    error_code = ErrorCode.unknown_leader_epoch
