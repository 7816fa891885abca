"""Writes under the controller's term: every controller write is a ZooKeeper transaction that first checks
/controller_epoch is still at the version its term began with (Kafka's KafkaZkClient checks the same), so a
controller that lost its term while paused or cut off has its writes refused, and resigns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError, RolledBackError, RuntimeInconsistency

from brook.metadata.zookeeper.layout import CONTROLLER_EPOCH_PATH

__all__ = ["ControllerMoved", "Term", "fenced_commit", "fenced_set"]


class ControllerMoved(Exception):
    """The /controller_epoch check failed: another controller was elected since this one's term began."""


def fenced_commit(zk: KazooClient, epoch_zk_version: int, ops: Callable[[Any], None]) -> list[Any]:
    """Run `ops(txn)` inside a transaction that first checks /controller_epoch is still at `epoch_zk_version`.

    Raises ControllerMoved if it is not; otherwise returns the results of `ops`' operations, where a failed
    operation's exception stands in its place (the caller decides: BadVersionError means "read again").
    """
    txn = zk.transaction()
    txn.check(CONTROLLER_EPOCH_PATH, epoch_zk_version)
    ops(txn)
    results = list(txn.commit())
    if isinstance(results[0], BadVersionError | NoNodeError):
        raise ControllerMoved(f"/controller_epoch is no longer at version {epoch_zk_version}")
    return [_unwrap(r) for r in results[1:]]


def fenced_set(zk: KazooClient, epoch_zk_version: int, path: str, data: bytes, version: int) -> Any:
    """One compare-and-set of `path` under the controller epoch check; returns the Stat or the exception."""
    (result,) = fenced_commit(zk, epoch_zk_version, lambda txn: txn.set_data(path, data, version=version))
    return result


@dataclass(frozen=True)
class Term:
    """A controller's term: its ZooKeeper client, its epoch (written into every partition state it decides) and
    the /controller_epoch version its writes are fenced on."""

    zk: KazooClient
    epoch: int
    epoch_zk_version: int

    def commit(self, ops: Callable[[Any], None]) -> list[Any]:
        return fenced_commit(self.zk, self.epoch_zk_version, ops)

    def set(self, path: str, data: bytes, version: int) -> Any:
        return fenced_set(self.zk, self.epoch_zk_version, path, data, version)


def _unwrap(result: Any) -> Any:
    # the other operations of a failed transaction report that they were rolled back
    return None if isinstance(result, RolledBackError | RuntimeInconsistency) else result
