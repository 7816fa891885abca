"""Controlled shutdown, written by the broker that is leaving (Kafka sends ControlledShutdown to its controller).

For each partition it leads or follows in the ISR, the leaving broker proposes the state Kafka's controller
would write (`move_off`): leadership to the next live ISR member in replica order in a new epoch, itself out of
the ISR. Each write is a compare-and-set on the state znode inside a transaction that checks /controller_epoch
is unchanged, so a concurrent controller decision wins and is decided on again from what it wrote. The broker
stops its replica fetchers first (broker/app.py), so no leader takes it back into an ISR meanwhile.
"""

from __future__ import annotations

import logging
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError

from brook.metadata.zookeeper.decisions import move_off
from brook.metadata.zookeeper.fencing import ControllerMoved, fenced_set
from brook.metadata.zookeeper.image import ImageCache
from brook.metadata.zookeeper.layout import (
    CONTROLLER_EPOCH_PATH,
    loads,
    partition_state_doc,
    partition_state_path,
)

__all__ = ["move_leaderships_off"]

logger = logging.getLogger(__name__)

_RETRY_S = 0.5


def move_leaderships_off(zk: KazooClient, cache: ImageCache, node_id: int, timeout_s: float) -> int:
    """Retries until nothing is left to move or `timeout_s` passed (a live replica outside the ISR may catch up
    meanwhile); returns how many partitions `node_id` still leads although another live replica exists."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            still_leading = _move_off_once(zk, cache, node_id)
        except ControllerMoved:
            still_leading = -1  # a new controller was elected meanwhile: look again under its epoch
        except Exception as exc:
            logger.warning("controlled shutdown pass failed (%s)", exc, exc_info=True)
            still_leading = -1
        if still_leading == 0:
            return 0
        if time.monotonic() >= deadline:
            return still_leading if still_leading > 0 else _count_led(cache, node_id)
        time.sleep(_RETRY_S)


def _move_off_once(zk: KazooClient, cache: ImageCache, node_id: int) -> int:
    _, epoch_stat = zk.get(CONTROLLER_EPOCH_PATH)
    live = set(cache.image.brokers)
    still_leading = 0
    for topic in list(cache.image.topics.values()):
        touched = False
        for p in topic.partitions.values():
            if node_id not in p.isr and p.leader != node_id:
                continue
            touched = True
            if not _move_off_partition(
                zk, topic.name, p.partition, p.replicas, node_id, live, epoch_stat.version
            ):
                still_leading += 1
        if touched:
            cache.refresh_topic(topic.name)  # this broker applies the moves at once (its parked requests end)
    return still_leading


def _move_off_partition(
    zk: KazooClient,
    name: str,
    partition: int,
    replicas: tuple[int, ...],
    node_id: int,
    live: set[int],
    epoch_zk_version: int,
) -> bool:
    """True once `node_id` no longer leads the partition (or no other live replica ever could)."""
    path = partition_state_path(name, partition)
    while True:
        try:
            data, stat = zk.get(path)
        except NoNodeError:
            return True
        state = loads(data)
        if state is None:
            return True
        leader, epoch, isr = int(state["leader"]), int(state["leader_epoch"]), tuple(state["isr"])
        decision = move_off(replicas, leader, epoch, isr, node_id, live)
        if decision is None:
            # as Kafka: a partition no other live replica could take (RF 1, the rest down) is not waited for
            return leader != node_id or not any(r in live for r in replicas if r != node_id)
        doc = partition_state_doc(*decision, int(state.get("controller_epoch", 0)))
        result = fenced_set(zk, epoch_zk_version, path, doc, stat.version)
        if isinstance(result, BadVersionError):
            continue
        if isinstance(result, Exception):
            raise result
        logger.info(
            "controlled shutdown moved topic=%s partition=%d leader=%d epoch=%d isr=%s",
            name,
            partition,
            decision[0],
            decision[1],
            list(decision[2]),
        )
        return decision[0] != node_id


def _count_led(cache: ImageCache, node_id: int) -> int:
    return sum(1 for t in cache.image.topics.values() for p in t.partitions.values() if p.leader == node_id)
