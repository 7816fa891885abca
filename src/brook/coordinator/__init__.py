"""Consumer groups and committed offsets as a state machine (no sockets, no asyncio, no wall clock).

`GroupCoordinator` answers the group APIs; `offsets_topic` knows the `__consumer_offsets` record layouts.
The broker owns the I/O: it appends the records the coordinator hands to its `OffsetsWriter`, replays
the topic's partitions into it at startup, and calls `tick(now_ms)` to fire timers.
"""

from brook.coordinator.api import CommitCallback, Leadership, ReplicatedCallback
from brook.coordinator.coordinator import (
    CoordinatorConfig,
    GroupCoordinator,
    GroupDescription,
    JoinParams,
    JoinResult,
    OffsetsWriter,
    SyncResult,
)
from brook.coordinator.group import GroupState, OffsetAndMetadata
from brook.coordinator.offsets_topic import OFFSETS_TOPIC, partition_for

__all__ = [
    "OFFSETS_TOPIC",
    "CommitCallback",
    "Leadership",
    "ReplicatedCallback",
    "CoordinatorConfig",
    "GroupCoordinator",
    "GroupDescription",
    "GroupState",
    "JoinParams",
    "JoinResult",
    "OffsetAndMetadata",
    "OffsetsWriter",
    "SyncResult",
    "partition_for",
]
