"""AlterPartitionReassignments (key 45) and ListPartitionReassignments (key 46), KIP-455: moving replicas.

Alter starts, replaces or cancels (replicas null) a partition's reassignment and answers once it has started;
the controller completes it when the target replicas are all in the ISR (metadata/reassignment.py has the
rules). As in Kafka, only the controller serves Alter (NOT_CONTROLLER elsewhere, and the admin client asks
the controller again); v1's allow_replication_factor_change=false refuses targets of another size. List answers
from this broker's metadata: every partition with a reassignment in progress (all, or those named), with its
replicas (original and target together) and the ones being added and removed; unknown topics and partitions
are left out, as Kafka does. Both need ALTER / DESCRIBE on the cluster.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType


@handles(45, versions=range(0, 2))
async def alter_partition_reassignments(ctx: RequestContext, req: Any) -> Any:
    wanted = [(t.name, int(p.partition_index)) for t in req.topics for p in t.partitions]
    allow_size_change = bool(getattr(req, "allow_replication_factor_change", True))
    if not ctx.authorize(AclOperation.ALTER, ResourceType.CLUSTER):
        return _answer(ctx, req, ErrorCode.cluster_authorization_failed, None, {})
    if len(set(wanted)) != len(wanted):
        return _answer(
            ctx, req, ErrorCode.invalid_request, "A partition is named more than once in the request.", {}
        )
    targets = {
        (t.name, int(p.partition_index)): None if p.replicas is None else tuple(int(r) for r in p.replicas)
        for t in req.topics
        for p in t.partitions
    }
    timeout_s = max(0.0, req.timeout.total_seconds())
    results = await asyncio.to_thread(
        ctx.broker.metadata.alter_partition_reassignments, targets, allow_size_change, timeout_s
    )
    if results and all(error == ErrorCode.not_controller for error, _m in results.values()):
        return _answer(ctx, req, ErrorCode.not_controller, "This broker is not the controller.", {})
    return _answer(ctx, req, ErrorCode.none, None, results)


def _answer(
    ctx: RequestContext,
    req: Any,
    error: ErrorCode,
    message: str | None,
    results: Mapping[tuple[str, int], tuple[int, str | None]],
) -> Any:
    """Every partition asked for: its own result, else the top-level error. v1 echoes the request's
    allow_replication_factor_change, so the client knows the broker applied it (KIP-1101)."""
    return ctx.respond(
        throttle_time=0,
        allow_replication_factor_change=bool(getattr(req, "allow_replication_factor_change", True)),
        error_code=error,
        error_message=message,
        responses=[
            {
                "name": t.name,
                "partitions": [
                    _partition_result(t.name, int(p.partition_index), results, error, message)
                    for p in t.partitions
                ],
            }
            for t in req.topics
        ],
    )


def _partition_result(
    topic: str,
    partition: int,
    results: Mapping[tuple[str, int], tuple[int, str | None]],
    error: ErrorCode,
    message: str | None,
) -> dict[str, Any]:
    code, text = results.get((topic, partition), (error, message))
    return {"partition_index": partition, "error_code": ErrorCode(code), "error_message": text}


@handles(46, versions=range(0, 1))
async def list_partition_reassignments(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return ctx.respond(
            throttle_time=0, error_code=ErrorCode.cluster_authorization_failed, error_message=None, topics=[]
        )
    topics = ctx.broker.metadata.topics()
    wanted: dict[str, set[int] | None] = dict.fromkeys(topics)
    if req.topics is not None:
        named: dict[str, set[int]] = {}
        for t in req.topics:
            named.setdefault(t.name, set()).update(int(p) for p in t.partition_indexes)
        wanted = dict(named)
    answer = []
    for name, partitions in wanted.items():
        state = topics.get(name)
        if state is None:
            continue
        ongoing = [
            {
                "partition_index": p.partition,
                "replicas": list(p.replicas),
                "adding_replicas": list(p.adding_replicas),
                "removing_replicas": list(p.removing_replicas),
            }
            for index, p in sorted(state.partitions.items())
            if (partitions is None or index in partitions) and (p.adding_replicas or p.removing_replicas)
        ]
        if ongoing:
            answer.append({"name": name, "partitions": ongoing})
    return ctx.respond(throttle_time=0, error_code=ErrorCode.none, error_message=None, topics=answer)
