"""Cluster metadata in ZooKeeper, in Kafka's znode layout.

layout.py        the znode paths and the JSON documents written there
image.py         ClusterImage and the watch-fed cache behind every read
store.py         ZooKeeperMetadataStore: the MetadataStore for clusters (reads, writes, sessions)
registration.py  /brokers/ids/<id>, waiting out a previous run's registration
controller.py    the controller: election by controller epoch, fenced writes, leader elections, deletions,
                 operators' elections (ElectLeaders) and the auto leader rebalance
controlled_shutdown.py  a leaving broker moves its leaderships off and leaves the ISRs
decisions.py     the pure decisions the controller applies (placement, election, controlled shutdown,
                 preferred and unclean elections, the rebalance's candidates)
"""

from brook.metadata.zookeeper.controller import RebalanceSettings
from brook.metadata.zookeeper.decisions import (
    assign_replicas,
    auto_rebalance_candidates,
    elect_leader,
    elect_leader_after_bounce,
    initial_state,
    leadership_predates_registration,
    move_off,
    preferred_leader,
    unclean_leader,
)
from brook.metadata.zookeeper.image import ClusterImage
from brook.metadata.zookeeper.layout import decode_topic_id, encode_topic_id
from brook.metadata.zookeeper.store import ZooKeeperMetadataStore

__all__ = [
    "ClusterImage",
    "RebalanceSettings",
    "ZooKeeperMetadataStore",
    "assign_replicas",
    "auto_rebalance_candidates",
    "decode_topic_id",
    "elect_leader",
    "elect_leader_after_bounce",
    "encode_topic_id",
    "initial_state",
    "leadership_predates_registration",
    "move_off",
    "preferred_leader",
    "unclean_leader",
]
