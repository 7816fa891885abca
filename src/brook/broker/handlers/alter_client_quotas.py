"""AlterClientQuotas (key 49): set or remove quota configs of user / client-id entities (KIP-546)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.broker.quota_rules import entity_from_pairs
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(49, versions=range(0, 2))
async def alter_client_quotas(ctx: RequestContext, req: Any) -> Any:
    quotas = ctx.broker.quotas
    may_alter = ctx.authorize(AclOperation.ALTER_CONFIGS, ResourceType.CLUSTER)
    current = await quotas.read_configs()
    results = []
    for entry in req.entries:
        pairs = [(e.entity_type, e.entity_name) for e in entry.entity]
        result: dict[str, Any] = {
            "entity": [{"entity_type": t, "entity_name": n} for t, n in pairs],
            "error_code": ErrorCode.none,
            "error_message": None,
        }
        if not may_alter:
            result["error_code"] = ErrorCode.cluster_authorization_failed
            results.append(result)
            continue
        try:
            entity = entity_from_pairs(pairs)
            values = quotas.altered(
                current.get(entity, {}), [(op.key, op.value, op.remove) for op in entry.ops]
            )
            if not req.validate_only:
                await quotas.write_config(entity, values)
        except ValueError as exc:
            result.update(error_code=ErrorCode.invalid_request, error_message=str(exc))
        results.append(result)
    return ctx.respond(throttle_time=0, entries=results)
