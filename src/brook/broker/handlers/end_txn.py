"""EndTxn (key 26): commit or abort. Answered once PrepareCommit/PrepareAbort is in `__transaction_state`'s
ISR; the markers are written after (a later request of this producer waits with CONCURRENT_TRANSACTIONS).
Needs WRITE on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), as Kafka."""

from typing import Any

from brook.broker.handlers.add_partitions_to_txn import fenced_error
from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(26, versions=range(0, 5))
async def end_txn(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactional_id):
        return ctx.respond(throttle_time=0, error_code=ErrorCode.transactional_id_authorization_failed)
    error = await ctx.broker.transactions.end_transaction(
        req.transactional_id, req.producer_id, req.producer_epoch, bool(req.committed)
    )
    return ctx.respond(throttle_time=0, error_code=fenced_error(error, ctx.version, 2))
