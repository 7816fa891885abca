"""JoinGroup (key 11): join or rejoin a group; answered when the rebalance completes (v0/v1 kept, KAFKA-19444)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.broker.request_metrics import parked
from brook.common.errors import ErrorCode
from brook.coordinator import JoinParams
from brook.protocol.codec import to_ms
from brook.security.acl import AclOperation, ResourceType


@handles(11, versions=range(0, 8))
async def join_group(ctx: RequestContext, req: Any) -> Any:
    nullable = ctx.version >= 7
    if not ctx.authorize(AclOperation.READ, ResourceType.GROUP, req.group_id):
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.group_authorization_failed,
            generation_id=-1,
            protocol_type=None if nullable else "",
            protocol_name=None if nullable else "",
            leader="",
            member_id="",
            members=[],
        )
    session_timeout_ms = to_ms(req.session_timeout)
    params = JoinParams(
        group_id=req.group_id,
        member_id=req.member_id,
        group_instance_id=getattr(req, "group_instance_id", None),
        protocol_type=req.protocol_type,
        protocols=[(p.name, bytes(p.metadata)) for p in req.protocols],
        session_timeout_ms=session_timeout_ms,
        # v0 has no rebalance timeout: the session timeout is both (as in Kafka)
        rebalance_timeout_ms=to_ms(getattr(req, "rebalance_timeout", session_timeout_ms)),
        client_id=ctx.client_id,
        client_host=ctx.client_host,
        require_known_member_id=ctx.version >= 4,
    )
    result = await parked(ctx.broker.groups.join(params))
    return ctx.respond(
        throttle_time=0,
        error_code=result.error_code,
        generation_id=result.generation_id,
        protocol_type=result.protocol_type if nullable else (result.protocol_type or ""),
        protocol_name=result.protocol_name if nullable else (result.protocol_name or ""),
        leader=result.leader_id,
        member_id=result.member_id,
        members=[
            {"member_id": mid, "group_instance_id": iid, "metadata": metadata}
            for mid, iid, metadata in result.members
        ],
    )
