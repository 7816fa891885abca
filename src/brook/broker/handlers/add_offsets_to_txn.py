"""AddOffsetsToTxn (key 25): a transactional producer will commit a group's offsets in its transaction, so the
group's `__consumer_offsets` partition joins the transaction (it gets the commit/abort marker).

Needs WRITE on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group
(GROUP_AUTHORIZATION_FAILED), as Kafka."""

from typing import Any

from brook.broker.handlers.add_partitions_to_txn import fenced_error
from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import OFFSETS_TOPIC
from brook.security.acl import AclOperation, ResourceType


@handles(25, versions=range(0, 5))
async def add_offsets_to_txn(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactional_id):
        return ctx.respond(throttle_time=0, error_code=ErrorCode.transactional_id_authorization_failed)
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        return ctx.respond(throttle_time=0, error_code=ErrorCode.group_authorization_failed)
    if not req.group_id:
        return ctx.respond(throttle_time=0, error_code=ErrorCode.invalid_request)
    groups = ctx.broker.groups
    groups.ensure_offsets_topic()  # as Kafka, the partition is named whether or not the topic exists yet
    tp = TopicPartition(OFFSETS_TOPIC, groups.coordinator.partition_for(req.group_id))
    error = await ctx.broker.transactions.add_partitions(
        req.transactional_id, req.producer_id, req.producer_epoch, [tp]
    )
    return ctx.respond(throttle_time=0, error_code=fenced_error(error, ctx.version, 2))
