"""Test support shipped with brook: a real broker process for tests, fakes that pass the same
contract suites as the real thing, batch builders, a real ZooKeeper server for cluster tests, and a
fault-injection cluster (BrookCluster: kill, pause, restart, partition brokers) with a checker for what a
failure run did to the data."""

from brook.testing.batches import make_batch
from brook.testing.broker_process import BrookProcess
from brook.testing.checker import Ack, CheckReport, CommitAck, CommitRead, check
from brook.testing.cluster import BrokerExit, BrookCluster, ClusterBroker
from brook.testing.fault_network import FaultNetwork
from brook.testing.memory_log import MemoryLog
from brook.testing.zookeeper import ZooKeeperNotInstalled, ZooKeeperProcess

__all__ = [
    "Ack",
    "BrokerExit",
    "BrookCluster",
    "BrookProcess",
    "CheckReport",
    "ClusterBroker",
    "CommitAck",
    "CommitRead",
    "FaultNetwork",
    "MemoryLog",
    "ZooKeeperNotInstalled",
    "ZooKeeperProcess",
    "check",
    "make_batch",
]
