"""AddPartitionsToTxn (key 24, v0-5): a transactional producer names the partitions it is about to write.

Authorization as Kafka's KafkaApis: without WRITE on the transactional id every partition gets
TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Every partition gets the same answer from the coordinator, except that if
any partition's topic may not be written (WRITE on the topic: TOPIC_AUTHORIZATION_FAILED) or is unknown
(UNKNOWN_TOPIC_OR_PARTITION) nothing is added and the rest get OPERATION_NOT_ATTEMPTED. PRODUCER_FENCED is
INVALID_PRODUCER_EPOCH before v2.

v4+ is the brokers' batched form (KIP-890): several transactions per request, each answered on its own, only
with CLUSTER_ACTION (else CLUSTER_AUTHORIZATION_FAILED for the request; topics are not checked for WRITE), and
`verify_only` asks whether the partitions are already in the open transaction without adding them (NONE, or
TRANSACTION_ABORTABLE from v5 and INVALID_TXN_STATE in v4 for a partition that is not).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType


@handles(24, versions=range(0, 6))
async def add_partitions_to_txn(ctx: RequestContext, req: Any) -> Any:
    if ctx.version >= 4:
        return await _batched(ctx, req)
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


async def _batched(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER):
        return ctx.respond(
            throttle_time=0, error_code=ErrorCode.cluster_authorization_failed, results_by_transaction=[]
        )
    service = ctx.broker.transactions
    results = []
    for txn in req.transactions:
        requested = [TopicPartition(topic.name, p) for topic in txn.topics for p in topic.partitions]
        unknown = {tp for tp in requested if not _exists(ctx, tp)}
        if unknown:
            codes = {
                tp: ErrorCode.unknown_topic_or_partition
                if tp in unknown
                else ErrorCode.operation_not_attempted
                for tp in requested
            }
        elif txn.verify_only:
            codes = service.coordinator.verify_partitions(
                txn.transactional_id, txn.producer_id, txn.producer_epoch, requested
            )
            if ctx.version < 5:
                codes = {
                    tp: ErrorCode.invalid_txn_state if code == ErrorCode.transaction_abortable else code
                    for tp, code in codes.items()
                }
        else:
            error = await service.add_partitions(
                txn.transactional_id, txn.producer_id, txn.producer_epoch, requested
            )
            codes = dict.fromkeys(requested, error)
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for tp in requested:
            by_topic.setdefault(tp.topic, []).append(
                {"partition_index": tp.partition, "partition_error_code": codes[tp]}
            )
        results.append(
            {
                "transactional_id": txn.transactional_id,
                "topic_results": [
                    {"name": name, "results_by_partition": entries} for name, entries in by_topic.items()
                ],
            }
        )
    return ctx.respond(throttle_time=0, error_code=ErrorCode.none, results_by_transaction=results)


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
