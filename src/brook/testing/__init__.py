"""Test support shipped with brook: a real broker process for tests, fakes that pass the same
contract suites as the real thing, batch builders, and a real ZooKeeper server for cluster tests."""

from brook.testing.batches import make_batch
from brook.testing.broker_process import BrookProcess
from brook.testing.memory_log import MemoryLog
from brook.testing.zookeeper import ZooKeeperNotInstalled, ZooKeeperProcess

__all__ = ["BrookProcess", "MemoryLog", "ZooKeeperNotInstalled", "ZooKeeperProcess", "make_batch"]
