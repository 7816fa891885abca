"""AddPartitionsToTxn (key 24, v0-3): a transactional producer names the partitions it is about to write.

Every partition gets the same answer from the coordinator, except that if any partition is unknown nothing
is added: the unknown ones get UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED (Kafka's
KafkaApis). PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2. (v4+, the brokers' batched form, is not
served: clients use v3 and below.)
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition


@handles(24, versions=range(0, 4))
async def add_partitions_to_txn(ctx: RequestContext, req: Any) -> Any:
    requested = [TopicPartition(topic.name, p) for topic in req.v3_and_below_topics for p in topic.partitions]
    unknown = {tp for tp in requested if not _exists(ctx, tp)}
    if unknown:
        codes = {
            tp: ErrorCode.unknown_topic_or_partition if tp in unknown else ErrorCode.operation_not_attempted
            for tp in requested
        }
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
    return ctx.respond(
        throttle_time=0,
        results_by_topic_v3_and_below=[
            {"name": name, "results_by_partition": entries} for name, entries in results.items()
        ],
    )


def _exists(ctx: RequestContext, tp: TopicPartition) -> bool:
    state = ctx.broker.metadata.topic(tp.topic)
    return state is not None and tp.partition in state.partitions


def fenced_error(error: ErrorCode, version: int, fenced_since: int) -> ErrorCode:
    """PRODUCER_FENCED as the request's version knows it (older versions: INVALID_PRODUCER_EPOCH)."""
    if error == ErrorCode.producer_fenced and version < fenced_since:
        return ErrorCode.invalid_producer_epoch
    return error
