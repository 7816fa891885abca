"""AlterReplicaLogDirs (key 34, v1-2): which of this broker's log dirs holds a replica.

kafka-reassign-partitions.sh sends it for every replica its JSON gives a "log_dirs" entry other than "any" (the
rollback file `--execute` prints names each replica's current dir), and retries while the answer is
REPLICA_NOT_AVAILABLE, the replica being on its way here. As in Kafka, per replica:
- a path that is not one of this broker's log dirs: LOG_DIR_NOT_FOUND; an offline one: KAFKA_STORAGE_ERROR;
- a partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION (so what is remembered stays bounded);
- a replica not hosted here yet: the dir is remembered, so the replica is created there when it comes, and
  the answer is REPLICA_NOT_AVAILABLE;
- a replica already in that dir: NONE.
Moving a hosted replica to another dir of the same broker (Kafka's future-replica copy, KIP-113) is not built:
such a replica gets INVALID_REQUEST, and the reason is logged. ALTER on the cluster, as Kafka asks.
"""

import logging
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.security.acl import AclOperation, ResourceType

logger = logging.getLogger(__name__)


@handles(34, versions=range(1, 3))
async def alter_replica_log_dirs(ctx: RequestContext, req: Any) -> Any:
    allowed = ctx.authorize(AclOperation.ALTER, ResourceType.CLUSTER)
    log_manager = ctx.broker.log_manager
    results: dict[str, list[dict[str, Any]]] = {}
    for entry in req.dirs:
        log_dir = log_manager.dir_named(entry.path)
        for topic in entry.topics:
            for partition in topic.partitions:
                tp = TopicPartition(topic.name, int(partition))
                if not allowed:
                    code = ErrorCode.cluster_authorization_failed
                elif log_dir is None:
                    code = ErrorCode.log_dir_not_found
                elif log_dir in log_manager.offline_dirs:
                    code = ErrorCode.kafka_storage_error
                elif not _exists(ctx, tp):  # nothing is remembered for a partition that does not exist
                    code = ErrorCode.unknown_topic_or_partition
                else:
                    code = _place(log_manager, tp, log_dir)
                results.setdefault(topic.name, []).append(
                    {"partition_index": int(partition), "error_code": code}
                )
    return ctx.respond(
        throttle_time=0,
        results=[{"topic_name": name, "partitions": partitions} for name, partitions in results.items()],
    )


def _exists(ctx: RequestContext, tp: TopicPartition) -> bool:
    state = ctx.broker.metadata.topic(tp.topic)
    return state is not None and tp.partition in state.partitions


def _place(log_manager: Any, tp: TopicPartition, log_dir: Any) -> ErrorCode:
    current = log_manager.log_dir_of(tp)
    if current is None:
        log_manager.prefer_dir(tp, log_dir)
        return ErrorCode.replica_not_available
    if current == log_dir:
        return ErrorCode.none
    logger.warning(
        "AlterReplicaLogDirs refused tp=%s from=%s to=%s: moving a replica between log dirs is not supported",
        tp, current, log_dir,
    )  # fmt: skip
    return ErrorCode.invalid_request
