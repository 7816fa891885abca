"""InitProducerId (key 22): producer ids for idempotent producers (epoch 0 for each new id), and for
transactional ones the transaction coordinator's id and bumped epoch (fencing the previous instance)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.protocol.codec import to_ms
from brook.security.acl import AclOperation, ResourceType


@handles(22, versions=range(0, 5))
async def init_producer_id(ctx: RequestContext, req: Any) -> Any:
    if req.transactional_id is None and not _may_be_idempotent(ctx):
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.cluster_authorization_failed,
            producer_id=-1,
            producer_epoch=-1,
        )
    if req.transactional_id is not None and not ctx.authorize(
        AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactional_id
    ):
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.transactional_id_authorization_failed,
            producer_id=-1,
            producer_epoch=-1,
        )
    if req.transactional_id is not None:
        given = (getattr(req, "producer_id", -1), getattr(req, "producer_epoch", -1))
        expected = given if given != (-1, -1) else None  # v3+ (KIP-360): resuming after an epoch error
        result = await ctx.broker.transactions.init_producer_id(
            req.transactional_id, to_ms(req.transaction_timeout), expected
        )
        error = result.error
        if error == ErrorCode.producer_fenced and ctx.version < 4:
            error = ErrorCode.invalid_producer_epoch  # PRODUCER_FENCED is new in v4
        return ctx.respond(
            throttle_time=0,
            error_code=error,
            producer_id=result.producer_id if error == ErrorCode.none else -1,
            producer_epoch=result.producer_epoch if error == ErrorCode.none else -1,
        )
    # A non-transactional producer gets a fresh id every time, as in Kafka (no epoch bump without a transactional id).
    producer_id = await ctx.broker.producer_ids.next_id()
    return ctx.respond(throttle_time=0, error_code=ErrorCode.none, producer_id=producer_id, producer_epoch=0)


def _may_be_idempotent(ctx: RequestContext) -> bool:
    """IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (KIP-679, as Kafka 3.x checks)."""
    if ctx.authorize(AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER):
        return True
    authorizer = ctx.broker.authorizer
    return authorizer is not None and authorizer.authorize_by_resource_type(
        ctx.caller, AclOperation.WRITE, ResourceType.TOPIC
    )
