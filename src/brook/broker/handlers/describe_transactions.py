"""DescribeTransactions (key 65, KIP-664): a transactional id's state on its coordinator. Needs DESCRIBE on
each transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for that id), as Kafka."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(65, versions=range(0, 1))
async def describe_transactions(ctx: RequestContext, req: Any) -> Any:
    coordinator = ctx.broker.transactions.coordinator
    states = []
    for transactional_id in req.transactional_ids:
        if ctx.authorize(AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactional_id):
            error, found = coordinator.describe(transactional_id)
        else:
            error, found = ErrorCode.transactional_id_authorization_failed, None
        entry: dict[str, Any] = {
            "error_code": error,
            "transactional_id": transactional_id,
            "transaction_state": "",
            "transaction_timeout": 0,
            "transaction_start_time": -1,  # no transaction started
            "producer_id": -1,
            "producer_epoch": -1,
            "topics": [],
        }
        if error == ErrorCode.none and found is not None:
            topics: dict[str, list[int]] = {}
            for tp in sorted(found.partitions):
                topics.setdefault(tp.topic, []).append(tp.partition)
            entry.update(
                transaction_state=found.state,
                transaction_timeout=found.timeout_ms,
                transaction_start_time=found.start_ms,
                producer_id=found.producer_id,
                producer_epoch=found.producer_epoch,
                topics=[{"topic": t, "partitions": ps} for t, ps in topics.items()],
            )
        states.append(entry)
    return await ctx.respond_async(throttle_time=0, transaction_states=states)
