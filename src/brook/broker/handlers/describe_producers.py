"""DescribeProducers (key 61, KIP-664): the producers a partition leader knows, from its producer state.

Per producer: id, epoch, last sequence (-1 when no batch of its current epoch is cached), last
timestamp (its last batch's max timestamp, else when its last marker was written), the coordinator
epoch of its last marker (-1 if none) and the first offset of its open transaction (-1 if none): what
`kafka-transactions.sh describe-producers` and find-hanging read. Only the leader answers
(NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION otherwise), as Kafka's. Needs READ on the topic
(TOPIC_AUTHORIZATION_FAILED for each of its partitions).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles, per_partition_sliced
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(61, versions=range(0, 1))
async def describe_producers(ctx: RequestContext, req: Any) -> Any:
    readable = {t.name for t in req.topics if ctx.authorize(AclOperation.READ, ResourceType.TOPIC, t.name)}

    def describe(tp: TopicPartition, _index: Any) -> dict[str, Any]:
        if tp.topic not in readable:
            return {"error_code": ErrorCode.topic_authorization_failed}
        partition = ctx.broker.replicas.leader_partition(tp)
        return {
            "error_code": ErrorCode.none,
            "active_producers": [
                {
                    "producer_id": p.producer_id,
                    "producer_epoch": p.producer_epoch,
                    "last_sequence": p.last_sequence,
                    "last_timestamp": p.last_timestamp,
                    "coordinator_epoch": p.coordinator_epoch,
                    "current_txn_start_offset": p.current_txn_start_offset,
                }
                for p in partition.producer_state.producers()
            ],
        }

    topics = await per_partition_sliced(
        ctx, req.topics, describe, partitions_field="partition_indexes", out_partitions_field="partitions"
    )
    for topic in topics:
        for p in topic["partitions"]:
            p.setdefault("active_producers", [])
    return await ctx.respond_async(throttle_time=0, topics=topics)
