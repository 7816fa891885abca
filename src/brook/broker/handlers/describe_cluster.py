"""DescribeCluster (key 60): brokers, controller and cluster id (what the Admin client's describeCluster shows).

v1 (KIP-919) lets a client ask for controllers instead; a broker answers for brokers only, as Kafka's do.
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.security.acl import AclOperation, ResourceType
from brook.security.acl_decisions import NO_AUTHORIZED_OPERATIONS

BROKERS = 1


@handles(60, versions=range(0, 2))
async def describe_cluster(ctx: RequestContext, req: Any) -> Any:
    store = ctx.broker.metadata
    endpoint_type = getattr(req, "endpoint_type", BROKERS)
    if endpoint_type != BROKERS:
        return ctx.respond(
            throttle_time=0,
            error_code=ErrorCode.mismatched_endpoint_type,
            error_message="brokers answer DescribeCluster for endpoint type 1 (brokers) only",
            endpoint_type=endpoint_type,
            cluster_id=store.cluster_id,
            controller_id=-1,
            brokers=[],
        )
    return ctx.respond(
        throttle_time=0,
        error_code=ErrorCode.none,
        endpoint_type=BROKERS,
        cluster_id=store.cluster_id,
        controller_id=store.controller_id,
        brokers=[
            {"broker_id": b.node_id, "host": address[0], "port": address[1], "rack": b.rack}
            for b in store.live_brokers()
            if (address := b.address_for(ctx.listener_name)) is not None  # the client's listener
        ],
        cluster_authorized_operations=_cluster_operations(ctx, req),
    )


def _cluster_operations(ctx: RequestContext, req: Any) -> int:
    """include_cluster_authorized_operations: 0 without DESCRIBE on the cluster, as Kafka answers."""
    if not req.include_cluster_authorized_operations:
        return NO_AUTHORIZED_OPERATIONS
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return 0
    return ctx.authorized_operations(ResourceType.CLUSTER)
