"""Topic identity on disk (KIP-516): each partition directory records its topic id in `partition.metadata`.

A topic deleted and created again under the same name while a replica was down (or between two metadata
reads) gets a new topic id; the replica's old directory then names the old id. It is deleted, never reused,
so no record of the old topic is ever served as part of the new one. A directory of a topic that no longer
exists at all is deleted as well: Kafka's controller completes a deletion on every replica, and a replica that
was down completes it here when it starts.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path

from brook.common.types import TopicPartition
from brook.storage.log import FileLog
from brook.storage.manager import LogManager

__all__ = ["TopicIdentity", "replicas_of_other_topics"]

NO_TOPIC_ID = uuid.UUID(int=0)


def replicas_of_other_topics(
    topic_ids: Mapping[str, uuid.UUID], on_disk: Mapping[TopicPartition, uuid.UUID | None]
) -> set[TopicPartition]:
    """The replica directories to delete: they record a topic id, and the topic of their name is gone or has
    another id now. A directory without partition.metadata (from before topic ids) is kept, and a topic without
    an id (created by a tool that writes none) matches any directory."""
    stale: set[TopicPartition] = set()
    for tp, disk_id in on_disk.items():
        if disk_id is None:
            continue
        current = topic_ids.get(tp.topic)
        if current is None or (current != NO_TOPIC_ID and current != disk_id):
            stale.add(tp)
    return stale


class TopicIdentity:
    """What each partition directory of this broker records: read once per opened log, by the log loader."""

    def __init__(self, log_manager: LogManager) -> None:
        self._log_manager = log_manager
        # the log each id was read from or recorded for: a weak reference, so a deleted partition's log is
        # freed as soon as the broker drops it, not at the next metadata change
        self._seen: dict[TopicPartition, tuple[weakref.ref[FileLog], uuid.UUID | None]] = {}

    def stale(self, topic_ids: Mapping[str, uuid.UUID]) -> set[TopicPartition]:
        on_disk: dict[TopicPartition, uuid.UUID | None] = {}
        logs = self._log_manager.logs()
        for tp in [tp for tp in self._seen if tp not in logs]:
            del self._seen[tp]
        for tp, log in logs.items():
            seen = self._seen.get(tp)
            if seen is None or seen[0]() is not log:
                # the topic id the loader read as it opened the log, off the event loop
                seen = (weakref.ref(log), log.load_result.topic_id)
                self._seen[tp] = seen
            on_disk[tp] = seen[1]
        return replicas_of_other_topics(topic_ids, on_disk)

    def unrecorded(
        self, hosted: Iterable[TopicPartition], topic_ids: Mapping[str, uuid.UUID]
    ) -> list[tuple[Path, uuid.UUID]]:
        """Directories of hosted partitions whose partition.metadata is still to be written; marks them as
        recorded (the caller writes them)."""
        pending: list[tuple[Path, uuid.UUID]] = []
        for tp in hosted:
            log = self._log_manager.get(tp)
            topic_id = topic_ids.get(tp.topic, NO_TOPIC_ID)
            if log is None or topic_id == NO_TOPIC_ID:
                continue
            seen = self._seen.get(tp)
            if seen is not None and seen[0]() is log and seen[1] == topic_id:
                continue
            self._seen[tp] = (weakref.ref(log), topic_id)
            pending.append((log.directory, topic_id))
        return pending
