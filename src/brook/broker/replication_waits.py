"""The coordinators' acks=all writes (`__consumer_offsets`, `__transaction_state`): after the append, wait for the
ISR in a task and report one error code, as Kafka's appendForGroup / appendTransactionToLog callbacks do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from brook.broker.replica_manager import acks_all_outcome
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition

if TYPE_CHECKING:
    from brook.broker.replica_manager import ReplicaManager

logger = logging.getLogger(__name__)

__all__ = ["ReplicationWaits"]


class ReplicationWaits:
    """The tasks waiting for the ISR to have a coordinator's appended records (kept until done)."""

    def __init__(self, replicas: ReplicaManager) -> None:
        self._replicas = replicas
        self._tasks: set[asyncio.Task[None]] = set()

    def settled(self, tp: TopicPartition, end_offset: int) -> ErrorCode | None:
        """Right after an append as leader: the outcome if the ISR already has the records up to `end_offset`
        (the HW is there, as when this broker is the whole ISR): NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND
        below min.insync.replicas, as `wait_for_replication` would say at once; None while followers must
        still fetch them (then `after_append`)."""
        partition = self._replicas.partitions.get(tp)
        if partition is None or not partition.is_leader:
            return None
        return acks_all_outcome(partition, end_offset)

    def after_append(
        self, tp: TopicPartition, end_offset: int, timeout_ms: int, on_replicated: Callable[[ErrorCode], None]
    ) -> None:
        """Records up to `end_offset` were just appended to `tp` as its leader: `on_replicated(code)` is called
        exactly once, NONE when the ISR has them in the leader epoch they were appended in."""
        epoch = self._replicas.partitions[tp].leader_epoch
        task = asyncio.get_running_loop().create_task(
            self._wait(tp, epoch, end_offset, timeout_ms, on_replicated)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait(
        self,
        tp: TopicPartition,
        epoch: int,
        end_offset: int,
        timeout_ms: int,
        on_replicated: Callable[[ErrorCode], None],
    ) -> None:
        code = ErrorCode.unknown_server_error
        try:
            failed = await self._replicas.wait_for_replication([(tp, end_offset)], timeout_ms)
            code = failed.get(tp, ErrorCode.none)
            partition = self._replicas.partitions.get(tp)
            if code == ErrorCode.none and (partition is None or partition.leader_epoch != epoch):
                code = ErrorCode.not_leader_or_follower  # leadership moved between append and wait
        except asyncio.CancelledError:
            code = ErrorCode.not_leader_or_follower  # shutting down: the client retries elsewhere
            raise
        except Exception:
            logger.exception("waiting for the replication of tp=%s failed", tp)
        finally:
            on_replicated(code)
