"""WriteTxnMarkers (key 27): a transaction coordinator asks partition leaders to end a transaction.

For each marker and each of its partitions this broker leads, the marker is written as
broker/txn_marker_writer.py describes (acks=all, answered once the ISR has it, Kafka's per-partition errors).

Only brokers send it: without CLUSTER_ACTION on the cluster (brokers are super users, as Kafka requires)
every partition gets CLUSTER_AUTHORIZATION_FAILED and nothing is written.

Results are grouped by producer id, as Kafka's response map is.
"""

from __future__ import annotations

import logging
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.broker.txn_marker_writer import MarkerWrite, write_markers
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType

logger = logging.getLogger(__name__)


@handles(27, versions=range(0, 2))
async def write_txn_markers(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER):
        logger.warning("WriteTxnMarkers refused: principal=%s may not CLUSTER_ACTION", ctx.principal)
        refused = [
            (marker, TopicPartition(t.name, i))
            for marker in req.markers
            for t in marker.topics
            for i in t.partition_indexes
        ]
        return ctx.respond(
            markers=_results(
                refused,
                dict.fromkeys(
                    ((m.producer_id, tp) for m, tp in refused), ErrorCode.cluster_authorization_failed
                ),
            )
        )
    wanted = [
        MarkerWrite(
            marker.producer_id,
            marker.producer_epoch,
            bool(marker.transaction_result),
            marker.coordinator_epoch,
            TopicPartition(topic.name, index),
        )
        for marker in req.markers
        for topic in marker.topics
        for index in topic.partition_indexes
    ]
    errors = await write_markers(ctx.broker, wanted)
    return await ctx.respond_async(markers=_results([(w, w.tp) for w in wanted], errors))


def _results(
    wanted: list[tuple[Any, TopicPartition]], errors: dict[tuple[int, TopicPartition], ErrorCode]
) -> list[dict[str, Any]]:
    """`[{producer_id, topics: [{name, partitions: [{partition_index, error_code}]}]}]`, one entry per
    producer id in request order."""
    by_producer: dict[int, dict[str, dict[int, ErrorCode]]] = {}
    for marker, tp in wanted:
        topics = by_producer.setdefault(marker.producer_id, {})
        topics.setdefault(tp.topic, {})[tp.partition] = errors[(marker.producer_id, tp)]
    return [
        {
            "producer_id": producer_id,
            "topics": [
                {
                    "name": name,
                    "partitions": [
                        {"partition_index": index, "error_code": code} for index, code in partitions.items()
                    ],
                }
                for name, partitions in topics.items()
            ],
        }
        for producer_id, topics in by_producer.items()
    ]
