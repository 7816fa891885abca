"""InitProducerId (key 22): producer ids for idempotent producers (epoch 0 for each new id)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode


@handles(22, versions=range(0, 5))
async def init_producer_id(ctx: RequestContext, req: Any) -> Any:
    if req.transactional_id is not None:
        # Transactions are on the roadmap; until then a transactional producer gets a clear refusal.
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.transactional_id_authorization_failed,
            producer_id=-1,
            producer_epoch=-1,
        )
    # A non-transactional producer gets a fresh id every time, as in Kafka (no epoch bump without a transactional id).
    producer_id = await ctx.broker.producer_ids.next_id()
    return ctx.respond(throttle_time=0, error_code=ErrorCode.none, producer_id=producer_id, producer_epoch=0)
