"""What GroupService and TransactionService share: a sans-IO coordinator serving the partitions of one compacted
internal topic (`__consumer_offsets`, `__transaction_state`) that this broker leads.

`sync_ownership` follows leadership: a partition this broker now leads (again, or in a new leader epoch) is
marked loading (COORDINATOR_LOAD_IN_PROGRESS) and queued; one it no longer leads is unloaded (NOT_COORDINATOR).
`_load` replays a queued partition up to its log end offset (Kafka's rule: what the old leader acknowledged may
still be above our high watermark), one chunk at a time, yielding between chunks so requests keep flowing;
a failure, or a leadership change meanwhile, leaves the partition unowned and the next ownership check starts
over. Each service reads its own records (`_replay_chunk`) and may finish a load its own way (`_after_load`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar

from brook.common.types import TopicPartition

if TYPE_CHECKING:
    from brook.broker.app import Broker
    from brook.metadata.api import BrokerInfo

logger = logging.getLogger(__name__)

__all__ = ["CoordinatorPartitions", "LoadableCoordinator", "resolver"]

_LOAD_CHUNK_BYTES = 1024 * 1024
T = TypeVar("T")


def resolver(future: asyncio.Future[T]) -> Callable[[T], None]:
    """A coordinator callback that completes `future` (unless the client went away and it was cancelled)."""

    def resolve(result: T) -> None:
        if not future.done():
            future.set_result(result)

    return resolve


class LoadableCoordinator(Protocol):
    """The ownership side of GroupCoordinator and TransactionCoordinator."""

    def owned_epoch(self, partition: int) -> int | None: ...

    def is_loading(self, partition: int) -> bool: ...

    def begin_loading(self, partition: int, epoch: int) -> None: ...

    def finish_loading(self, partition: int) -> None: ...

    def unload(self, partition: int) -> None: ...


class CoordinatorPartitions(ABC):
    """Ownership and loading of `topic`'s `num_partitions` partitions for `owner`, on the broker's event loop."""

    def __init__(self, broker: Broker, topic: str, num_partitions: int, owner: LoadableCoordinator) -> None:
        self._broker = broker
        self._topic = topic
        self._num_partitions = num_partitions
        self._owner = owner
        self._to_load: list[int] = []
        self._stopped = False
        self._cluster = bool(broker.config.get("zookeeper.connect"))

    @abstractmethod
    def _leader_epoch(self, p: int) -> int | None:
        """Our leader epoch of partition `p` while we may serve it (None: not ours, or fenced)."""

    @abstractmethod
    def _replay_chunk(self, p: int, data: bytes, offset: int) -> tuple[int, int]:
        """Replay the records at `offset` and after in `data` (whole batches from the log): (the offset after
        them, how many records were replayed)."""

    @abstractmethod
    def _may_serve(self, p: int) -> bool:
        """Whether this broker, named the leader of partition `p` by the metadata, may answer for it now."""

    def _after_load(self, p: int) -> None:  # noqa: B027 - a hook: nothing to do unless a service has
        """Called once partition `p` is loaded and served."""

    def _coordinator_of(self, p: int) -> BrokerInfo | None:
        """The live broker leading partition `p`: FindCoordinator's answer (None: COORDINATOR_NOT_AVAILABLE,
        also while that is this broker and it may not serve the partition)."""
        state = self._broker.metadata.topic(self._topic)
        if state is None:
            return None
        partition = state.partitions.get(p)
        if partition is None or partition.leader < 0:
            return None
        if partition.leader == self._broker.node_id and not self._may_serve(p):
            return None
        for broker in self._broker.metadata.live_brokers():
            if broker.node_id == partition.leader:
                return broker
        return None

    def sync_ownership(self) -> None:
        if self._stopped:
            return
        for p in range(self._num_partitions):
            epoch = self._leader_epoch(p)
            owned = self._owner.owned_epoch(p)
            if epoch is not None and epoch != owned:
                if owned is not None:
                    logger.info("reloading %s partition=%d new epoch=%d", self._topic, p, epoch)
                self._owner.begin_loading(p, epoch)
                self._to_load.append(p)
            elif epoch is None and owned is not None:
                logger.info("no longer coordinator for %s partition=%d", self._topic, p)
                self._owner.unload(p)

    def _load_pending(self) -> None:
        """Load every queued partition at once (a topic just created: its logs are empty)."""
        while self._to_load:
            for _ in self._load(self._to_load.pop(0)):
                pass

    async def _load_queued(self) -> None:
        """Load every queued partition, yielding to the event loop after each chunk."""
        while self._to_load:
            for _ in self._load(self._to_load.pop(0)):
                await asyncio.sleep(0)

    def _load(self, p: int) -> Iterator[None]:
        """Replay partition `p` up to its log end offset, yielding after each chunk."""
        epoch = self._owner.owned_epoch(p)
        if epoch is None or not self._owner.is_loading(p):
            return  # already loaded, or unloaded while queued
        tp = TopicPartition(self._topic, p)
        records = 0
        try:
            log = self._broker.replicas.partitions[tp].log
            offset = log.log_start_offset
            while offset < log.log_end_offset:
                before = offset
                data = log.read(offset, max_bytes=_LOAD_CHUNK_BYTES).to_bytes()
                if not data:
                    break
                offset, replayed = self._replay_chunk(p, data, offset)
                records += replayed
                if offset == before:
                    logger.warning("stopped loading %s partition=%d at offset=%d", self._topic, p, offset)
                    break
                yield
                if self._leader_epoch(p) != epoch or self._owner.owned_epoch(p) != epoch:
                    logger.info("leadership moved while loading %s partition=%d", self._topic, p)
                    if self._owner.owned_epoch(p) == epoch:
                        self._owner.unload(p)
                    return
        except Exception:
            logger.exception("loading %s partition=%d failed; will retry", self._topic, p)
            self._owner.unload(p)
            return
        self._owner.finish_loading(p)
        self._after_load(p)
        logger.info(
            "loaded %s partition=%d epoch=%d records=%d log_end_offset=%d",
            self._topic,
            p,
            epoch,
            records,
            offset,
        )
