"""FindCoordinator (key 10): the broker leading a group's `__consumer_offsets` partition (key_type 0), or a
transactional id's `__transaction_state` partition (key_type 1); batched from v4."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType

_GROUP = 0
_TRANSACTION = 1


@handles(10, versions=range(0, 5))
async def find_coordinator(ctx: RequestContext, req: Any) -> Any:
    key_type = getattr(req, "key_type", _GROUP)
    if ctx.version >= 4:
        found = [_find(ctx, key, key_type) for key in req.coordinator_keys]
        return ctx.respond(throttle_time=0, coordinators=found)
    entry = _find(ctx, req.key, key_type)
    del entry["key"]
    return ctx.respond(throttle_time=0, **entry)


def _find(ctx: RequestContext, key: str, key_type: int) -> dict[str, Any]:
    refused = _authorization_error(ctx, key, key_type)
    if refused is not None:
        return refused
    if key_type not in (_GROUP, _TRANSACTION):
        return _error(key, ErrorCode.invalid_request, f"unknown key type {key_type}")
    if not key:
        return _error(
            key,
            ErrorCode.invalid_request,
            "empty group id" if key_type == _GROUP else "empty transactional id",
        )
    if key_type == _TRANSACTION:
        broker = ctx.broker.transactions.coordinator_for(key)
    else:
        broker = ctx.broker.groups.coordinator_for(key)
    address = broker.address_for(ctx.listener_name) if broker is not None else None
    if broker is None or address is None:  # (the coordinator lacks the client's listener: Kafka's answer too)
        return _error(key, ErrorCode.coordinator_not_available, "The coordinator is not available.")
    return {
        "key": key,
        "node_id": broker.node_id,
        "host": address[0],
        "port": address[1],
        "error_code": ErrorCode.none,
        "error_message": None,
    }


def _authorization_error(ctx: RequestContext, key: str, key_type: int) -> dict[str, Any] | None:
    """DESCRIBE on the group, or on the transactional id, as Kafka requires before naming a coordinator."""
    if key_type == _GROUP and not ctx.authorize(AclOperation.DESCRIBE, ResourceType.GROUP, key):
        return _error(key, ErrorCode.group_authorization_failed, "Group authorization failed.")
    if key_type == _TRANSACTION and not ctx.authorize(
        AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key
    ):
        return _error(
            key, ErrorCode.transactional_id_authorization_failed, "Transactional Id authorization failed."
        )
    return None


def _error(key: str, code: ErrorCode, message: str) -> dict[str, Any]:
    return {"key": key, "node_id": -1, "host": "", "port": -1, "error_code": code, "error_message": message}
