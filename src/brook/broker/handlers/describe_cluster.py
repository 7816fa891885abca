"""DescribeCluster (key 60): brokers, controller and cluster id (what the Admin client's describeCluster shows)."""

from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode


@handles(60, versions=range(0, 1))
async def describe_cluster(ctx: RequestContext, req: Any) -> Any:
    store = ctx.broker.metadata
    return ctx.respond(
        throttle_time=0,
        error_code=ErrorCode.none,
        cluster_id=store.cluster_id,
        controller_id=store.controller_id,
        brokers=[
            {"broker_id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack}
            for b in store.live_brokers()
        ],
        cluster_authorized_operations=-2147483648,
    )
