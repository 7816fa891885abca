"""ElectLeaders (key 43, KIP-460): an operator asks the controller for preferred or unclean leader elections.

v0 elects preferred leaders only; v1 adds the election type and a top-level error code. With no partitions
listed the request means every partition, and, as Kafka, the answer then leaves out those that needed no
election. The controller decides (metadata store: `elect_leaders`); any other broker answers NOT_CONTROLLER.
"""

import asyncio
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.metadata.api import PREFERRED_ELECTION, UNCLEAN_ELECTION
from brook.security.acl import AclOperation, ResourceType


@handles(43, versions=range(0, 3))
async def elect_leaders(ctx: RequestContext, req: Any) -> Any:
    election_type = int(getattr(req, "election_type", PREFERRED_ELECTION))
    timeout_s = max(0.0, req.timeout.total_seconds())
    every = req.topic_partitions is None
    wanted = None if every else [(t.topic, int(p)) for t in req.topic_partitions for p in t.partitions]
    if not ctx.authorize(AclOperation.ALTER, ResourceType.CLUSTER):
        return _refused(ctx, req)
    if election_type not in (PREFERRED_ELECTION, UNCLEAN_ELECTION):
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.invalid_request,
            replica_election_results=[],
        )
    results = await asyncio.to_thread(ctx.broker.metadata.elect_leaders, wanted, election_type, timeout_s)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for (topic, partition), (error, message, _leader) in sorted(results.items()):
        if every and error == ErrorCode.election_not_needed:
            continue
        by_topic.setdefault(topic, []).append(
            {"partition_id": partition, "error_code": ErrorCode(error), "error_message": message}
        )
    return ctx.respond(
        throttle_time=0,
        error_code=ErrorCode.none,
        replica_election_results=[
            {"topic": topic, "partition_result": partitions} for topic, partitions in by_topic.items()
        ],
    )


def _refused(ctx: RequestContext, req: Any) -> Any:
    """CLUSTER_AUTHORIZATION_FAILED, top level (v1+) and for every partition asked for."""
    error = {"error_code": ErrorCode.cluster_authorization_failed, "error_message": None}
    return ctx.respond(
        throttle_time=0,
        error_code=ErrorCode.cluster_authorization_failed,
        replica_election_results=[
            {"topic": t.topic, "partition_result": [{"partition_id": int(p), **error} for p in t.partitions]}
            for t in req.topic_partitions or []
        ],
    )
