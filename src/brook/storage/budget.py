"""How many partitions this process can hold open: the open-files limit and the memory-map limit.

What a partition costs at rest (measured in tests/integration/test_many_partitions.py):

    descriptors  1   its active segment's `.log` (indexes hold none, see index.py; inactive segments
                     share `max_open_inactive_segments` descriptors through an LRU, see open_files.py)
    maps         0   nothing is memory-mapped (CPython's mmap would also cost a descriptor each)

Everything else a broker opens (client and replication sockets, checkpoint and metadata writes, the
epoll and listener descriptors, Python's own files) must fit into `reserved_files`. Checked before
partitions are created (CreateTopics, CreatePartitions), so a request that would exhaust the limit is
refused whole instead of failing half-way with EMFILE. Pure decisions here; reading the limits is the
only I/O.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FILES_PER_PARTITION",
    "MAPS_PER_PARTITION",
    "ResourceBudget",
    "count_maps",
    "raise_open_files_limit",
    "read_max_map_count",
]

logger = logging.getLogger(__name__)

FILES_PER_PARTITION = 1
MAPS_PER_PARTITION = 0
_DEFAULT_MAX_MAP_COUNT = 65530  # Linux's default vm.max_map_count
_MAPS_RESERVED = 4096  # the interpreter, its libraries, thread stacks, malloc arenas


@dataclass(frozen=True, slots=True)
class ResourceBudget:
    open_files_limit: int  # the soft RLIMIT_NOFILE in force
    open_files_hard_limit: int
    reserved_files: int  # kept free for sockets and short-lived files
    max_open_inactive_segments: int  # the LRU of inactive segment files (open_files.py)
    max_map_count: int = _DEFAULT_MAX_MAP_COUNT
    files_per_partition: int = FILES_PER_PARTITION
    maps_per_partition: int = MAPS_PER_PARTITION

    @property
    def max_partitions(self) -> int:
        spare = self.open_files_limit - self.reserved_files - self.max_open_inactive_segments
        limit = max(0, spare // self.files_per_partition)
        if self.maps_per_partition > 0:
            limit = min(limit, max(0, (self.max_map_count - _MAPS_RESERVED) // self.maps_per_partition))
        return limit

    def refusal(self, hosted: int, new: int) -> str | None:
        """Why `new` more partitions cannot be hosted next to `hosted` ones, or None if they fit."""
        if new <= 0 or hosted + new <= self.max_partitions:
            return None
        return (
            f"Creating {new} partition replicas on this broker would make {hosted + new}, more than the "
            f"{self.max_partitions} its open-files limit allows: RLIMIT_NOFILE is {self.open_files_limit} "
            f"(hard limit {self.open_files_hard_limit}); each partition holds {self.files_per_partition} "
            f"file descriptor, {self.reserved_files} are reserved for connections and "
            f"{self.max_open_inactive_segments} for reading older segments (brook.open.files.reserved, "
            f"brook.log.open.inactive.segments.max). Raise the limit (ulimit -n, systemd LimitNOFILE=, "
            f"/etc/security/limits.conf) and restart the broker, or create fewer partitions."
        )

    def describe(self, hosted: int, maps_in_use: int) -> str:
        return (
            f"open_files_limit={self.open_files_limit} hard_limit={self.open_files_hard_limit} "
            f"reserved={self.reserved_files} inactive_segment_files={self.max_open_inactive_segments} "
            f"files_per_partition={self.files_per_partition} max_partitions={self.max_partitions} "
            f"hosted={hosted} max_map_count={self.max_map_count} maps_in_use={maps_in_use} "
            f"maps_per_partition={self.maps_per_partition}"
        )


def _nr_open(path: Path = Path("/proc/sys/fs/nr_open")) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 1024 * 1024


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (as far as the kernel's nr_open allows);
    returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _nr_open() if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            logger.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
    if soft == resource.RLIM_INFINITY:
        soft = _nr_open()
    if hard == resource.RLIM_INFINITY:
        hard = soft
    return soft, hard


def read_max_map_count(path: Path = Path("/proc/sys/vm/max_map_count")) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return _DEFAULT_MAX_MAP_COUNT


def count_maps(path: Path = Path("/proc/self/maps")) -> int:
    try:
        with path.open() as f:
            return sum(1 for _ in f)
    except OSError:
        return 0
