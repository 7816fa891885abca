"""AddPartitionsToTxn (key 24, v0-3): a transactional producer names the partitions it is about to write.

Authorization as Kafka's KafkaApis: without WRITE on the transactional id every partition gets
TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Every partition gets the same answer from the coordinator, except that if
any partition's topic may not be written (WRITE on the topic: TOPIC_AUTHORIZATION_FAILED) or is unknown
(UNKNOWN_TOPIC_OR_PARTITION) nothing is added and the rest get OPERATION_NOT_ATTEMPTED. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2. (v4+, the brokers' batched form, is not
served: clients use v3 and below.)
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(24, versions=range(0, 4))
async def add_partitions_to_txn(ctx: RequestContext, req: Any) -> Any:
    requested = [TopicPartition(topic.name, p) for topic in req.v3_and_below_topics for p in topic.partitions]
    refused = _refusals(ctx, req.v3_and_below_transactional_id, requested)
    if refused:
        codes = {tp: refused.get(tp, ErrorCode.operation_not_attempted) for tp in requested}
    else:
        error = await ctx.broker.transactions.add_partitions(
            req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            requested,
        )
        codes = dict.fromkeys(requested, fenced_error(error, ctx.version, 2))
    results: dict[str, list[dict[str, Any]]] = {}
    for tp in requested:
        results.setdefault(tp.topic, []).append(
            {"partition_index": tp.partition, "partition_error_code": codes[tp]}
        )
    return await ctx.respond_async(
        throttle_time=0,
        results_by_topic_v3_and_below=[
            {"name": name, "results_by_partition": entries} for name, entries in results.items()
        ],
    )


def _refusals(
    ctx: RequestContext, transactional_id: str, requested: list[TopicPartition]
) -> dict[TopicPartition, ErrorCode]:
    """The partitions refused before the coordinator is asked (an empty dict: none)."""
    if not ctx.authorize(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id):
        return dict.fromkeys(requested, ErrorCode.transactional_id_authorization_failed)
    writable = {
        name
        for name in {tp.topic for tp in requested}
        if ctx.authorize(AclOperation.WRITE, ResourceType.TOPIC, name)
    }
    refused = {}
    for tp in requested:
        if tp.topic not in writable:
            refused[tp] = ErrorCode.topic_authorization_failed
        elif not _exists(ctx, tp):
            refused[tp] = ErrorCode.unknown_topic_or_partition
    return refused


def _exists(ctx: RequestContext, tp: TopicPartition) -> bool:
    state = ctx.broker.metadata.topic(tp.topic)
    return state is not None and tp.partition in state.partitions


def fenced_error(error: ErrorCode, version: int, fenced_since: int) -> ErrorCode:
    """PRODUCER_FENCED as the request's version knows it (older versions: INVALID_PRODUCER_EPOCH)."""
    if error == ErrorCode.producer_fenced and version < fenced_since:
        return ErrorCode.invalid_producer_epoch
    return error
