"""ListTransactions (key 66, KIP-664): the transactions this broker coordinates, filtered by state, producer
id and (v1) how long they have been open. Only the ids the caller may DESCRIBE are listed, as Kafka."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.protocol.codec import to_ms
from brook.security.acl import AclOperation, ResourceType


@handles(66, versions=range(0, 2))
async def list_transactions(ctx: RequestContext, req: Any) -> Any:
    error, found, unknown = ctx.broker.transactions.coordinator.list_transactions(
        states=req.state_filters,
        producer_ids=req.producer_id_filters,
        min_duration_ms=to_ms(getattr(req, "duration_filter", -1)),
        now_ms=ctx.broker.clock.now_ms(),
    )
    return ctx.respond(
        throttle_time=0,
        error_code=error,
        unknown_state_filters=unknown,
        transaction_states=[
            {
                "transactional_id": t.transactional_id,
                "producer_id": t.producer_id,
                "transaction_state": t.state,
            }
            for t in found
            if ctx.authorize(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, t.transactional_id)
        ],
    )
