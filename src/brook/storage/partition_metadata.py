"""partition.metadata: the topic id (KIP-516) a partition directory belongs to, in Kafka's format.

File layout (text, written atomically: temp file, fsync, rename, fsync dir):
    version: 0
    topic_id: <the topic id as Kafka prints it: 22 characters of URL-safe base64, no padding>

A directory whose file names another topic id than the topic of that name has now belongs to a deleted
topic (the name was reused while this broker was down): the broker deletes it rather than serve its records.
"""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

from brook.common.files import write_atomically

__all__ = ["PARTITION_METADATA_FILE", "read_topic_id", "write_topic_id"]

PARTITION_METADATA_FILE = "partition.metadata"
_VERSION = 0
_MAX_BYTES = 4096  # the file is ~50 bytes; more than this is not Kafka's format


def _encode(topic_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(topic_id.bytes).decode().rstrip("=")


def _decode(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def write_topic_id(partition_dir: Path, topic_id: uuid.UUID) -> None:
    body = f"version: {_VERSION}\ntopic_id: {_encode(topic_id)}\n"
    write_atomically(partition_dir / PARTITION_METADATA_FILE, body.encode())


def read_topic_id(partition_dir: Path) -> uuid.UUID | None:
    """The topic id recorded in the directory; None if there is no file (a directory from before topic ids).

    Raises ValueError for a file that is not Kafka's format. Read with one open and one read (the log loader
    reads one per partition at start: pathlib's text I/O cost twice as much)."""
    try:
        fd = os.open(os.path.join(partition_dir, PARTITION_METADATA_FILE), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, _MAX_BYTES)
    finally:
        os.close(fd)
    text = data.decode()
    fields = dict(line.split(":", 1) for line in text.splitlines() if line.strip())
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    if fields.get("version") != str(_VERSION) or "topic_id" not in fields:
        raise ValueError(f"unsupported {PARTITION_METADATA_FILE} in {partition_dir}: {text!r}")
    return _decode(fields["topic_id"])
