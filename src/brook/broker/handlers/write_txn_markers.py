"""WriteTxnMarkers (key 27): a transaction coordinator asks partition leaders to end a transaction.

For each marker and each of its partitions this broker leads, a COMMIT or ABORT control batch
(records/control.py) is appended in the leader's epoch, as Kafka appends markers: acks=all rules
(NOT_ENOUGH_REPLICAS below min.insync.replicas), internal topics allowed, answered once the ISR has it
(REQUEST_TIMED_OUT after 30 s, Kafka's request.timeout.ms; NOT_LEADER_OR_FOLLOWER if leadership moved).
Per-partition errors: UNKNOWN_TOPIC_OR_PARTITION (not hosted here), NOT_LEADER_OR_FOLLOWER,
INVALID_PRODUCER_EPOCH (the marker's producer epoch is older than the partition's),
TRANSACTION_COORDINATOR_FENCED (its coordinator epoch is older than a marker already written).
Markers take their turn in each partition's append order behind produce requests that arrived first.

Only brokers send it: without CLUSTER_ACTION on the cluster (brokers are super users, as Kafka requires)
every partition gets CLUSTER_AUTHORIZATION_FAILED and nothing is written.

Results are grouped by producer id, as Kafka's response map is. After a partition's marker is
replicated, every callback in `ReplicaManager.txn_marker_listeners` runs with (tp, producer_id,
producer_epoch, committed): the group coordinator's hook to make transactional offset commits visible.
"""

from __future__ import annotations

import logging
from typing import Any

from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.records.control import ControlType, EndTxnMarker
from brook.security.acl import AclOperation, ResourceType

logger = logging.getLogger(__name__)

_REPLICATION_TIMEOUT_MS = 30_000  # Kafka waits request.timeout.ms (default 30 s) for the ISR


@handles(27, versions=range(0, 2))
async def write_txn_markers(ctx: RequestContext, req: Any) -> Any:
    replicas = ctx.broker.replicas
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
    validator = ctx.broker.produce_validator
    wanted = [
        (marker, TopicPartition(topic.name, index))
        for marker in req.markers
        for topic in marker.topics
        for index in topic.partition_indexes
    ]
    turns = [validator.reserve(tp) for _, tp in wanted]  # before the first await: arrival order
    errors: dict[tuple[int, TopicPartition], ErrorCode] = {}
    appended: dict[tuple[int, TopicPartition], int] = {}
    try:
        for (marker, tp), turn in zip(wanted, turns, strict=True):
            await turn.wait()
            try:
                control = EndTxnMarker(
                    ControlType.COMMIT if marker.transaction_result else ControlType.ABORT,
                    marker.coordinator_epoch,
                )
                info = replicas.append_txn_marker(tp, marker.producer_id, marker.producer_epoch, control)
                appended[(marker.producer_id, tp)] = info.last_offset + 1
            except Exception as exc:  # noqa: BLE001 - becomes this partition's error code (logged if unexpected)
                errors[(marker.producer_id, tp)] = error_entry(exc)["error_code"]
            finally:
                turn.done()
    finally:
        for turn in turns:
            turn.done()
    if appended:
        failed = await replicas.wait_for_replication(
            [(tp, end) for (_, tp), end in appended.items()], _REPLICATION_TIMEOUT_MS
        )
        for (producer_id, tp), _ in appended.items():
            errors[(producer_id, tp)] = failed.get(tp, ErrorCode.none)
    for marker, tp in wanted:
        if errors.get((marker.producer_id, tp)) == ErrorCode.none:
            for listener in list(replicas.txn_marker_listeners):
                try:
                    listener(tp, marker.producer_id, marker.producer_epoch, bool(marker.transaction_result))
                except Exception:
                    logger.exception("transaction marker listener failed tp=%s", tp)
                    errors[(marker.producer_id, tp)] = ErrorCode.unknown_server_error
    return await ctx.respond_async(markers=_results(wanted, errors))


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
