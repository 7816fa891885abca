"""OffsetForLeaderEpoch (key 23): where a leader epoch ends in the leader's log (KIP-101, KIP-320).

Clients (librdkafka, the Java consumer) ask it after a leader change to detect that the log was truncated
under their position. The answer is the leader's (largest epoch <= the requested one, the offset where
the next epoch starts, or the log end offset for the latest epoch), as Kafka's LeaderEpochFileCache
computes it; an epoch older than all we know answers the start of the first one we know, and (-1, -1)
if we know no epoch at all. Only the leader answers, fenced by the request's current leader epoch.
v0-1 are decoded by hand (protocol/offset_for_leader_epoch.py); v2-4 through kio.
"""

from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.protocol.offset_for_leader_epoch import (
    EpochEndOffset,
    decode_old_offset_for_leader_epoch,
    encode_old_offset_for_leader_epoch,
)
from brook.security.acl import AclOperation, ResourceType


@handles(23, versions=range(0, 5))
async def offset_for_leader_epoch(ctx: RequestContext, req: Any) -> Any:
    if ctx.request.unsupported_version:  # v0-1, answered by hand
        topics = decode_old_offset_for_leader_epoch(ctx.request.raw_body)
        answers = [
            (name, [_end_offset(ctx, TopicPartition(name, p.partition), p) for p in ps])
            for name, ps in topics
        ]
        return encode_old_offset_for_leader_epoch(ctx.version, answers)
    results = [
        {
            "topic": topic.topic,
            "partitions": [
                _as_fields(_end_offset(ctx, TopicPartition(topic.topic, p.partition), p))
                for p in topic.partitions
            ],
        }
        for topic in req.topics
    ]
    return ctx.respond(throttle_time=0, topics=results)


def _end_offset(ctx: RequestContext, tp: TopicPartition, p: Any) -> EpochEndOffset:
    try:
        # followers have CLUSTER_ACTION; a client needs DESCRIBE on the topic
        if not ctx.authorize(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER) and not ctx.authorize(
            AclOperation.DESCRIBE, ResourceType.TOPIC, tp.topic
        ):
            raise TopicAuthorizationFailed()
        partition = ctx.broker.replicas.leader_partition(tp)
        epoch, end_offset = partition.end_offset_for_leader_epoch(
            p.leader_epoch, current_leader_epoch=getattr(p, "current_leader_epoch", -1)
        )
    except Exception as exc:  # noqa: BLE001 - becomes this partition's error code (logged if unexpected)
        return EpochEndOffset(tp.partition, error_entry(exc)["error_code"])
    return EpochEndOffset(tp.partition, ErrorCode.none, epoch, end_offset)


def _as_fields(result: EpochEndOffset) -> dict[str, Any]:
    return {
        "error_code": result.error_code,
        "partition": result.partition,
        "leader_epoch": result.leader_epoch,
        "end_offset": result.end_offset,
    }
