"""Short descriptions of Kafka's topic configs, shown beside each config on the topic page (Kafka's own
names and defaults; the wording is ours)."""

from __future__ import annotations

__all__ = ["TOPIC_CONFIG_DOCS"]

TOPIC_CONFIG_DOCS: dict[str, str] = {
    "cleanup.policy": "delete: drop old segments by retention; compact: keep the newest record per key "
    "(both allowed, comma-separated).",
    "compression.type": "Codec of the stored batches: producer keeps what the producer sent; or uncompressed, "
    "gzip, snappy, lz4, zstd.",
    "delete.retention.ms": "How long tombstones (null values) stay in a compacted topic, so consumers see them.",
    "file.delete.delay.ms": "Wait before a deleted segment's files are removed from disk.",
    "flush.messages": "Force an fsync after this many records (default: leave it to the OS and replication).",
    "flush.ms": "Force an fsync after this many milliseconds.",
    "index.interval.bytes": "Bytes between two entries of the offset index.",
    "max.compaction.lag.ms": "Longest time a record may stay uncompacted.",
    "max.message.bytes": "Largest record batch the topic accepts (after compression).",
    "message.timestamp.type": "CreateTime: the producer's timestamp; LogAppendTime: the broker's clock.",
    "message.timestamp.after.max.ms": "How far into the future a CreateTime timestamp may be.",
    "message.timestamp.before.max.ms": "How far into the past a CreateTime timestamp may be.",
    "min.cleanable.dirty.ratio": "Share of uncompacted log that triggers compaction.",
    "min.compaction.lag.ms": "Shortest time a record stays uncompacted.",
    "min.insync.replicas": "With acks=all, the fewest in-sync replicas that must have a write before it is "
    "acknowledged; fewer and producers get NOT_ENOUGH_REPLICAS.",
    "preallocate": "Preallocate segment files on disk.",
    "retention.bytes": "Largest size of a partition before old segments are deleted (-1: no limit).",
    "retention.ms": "How long records are kept before their segment is deleted (-1: forever).",
    "segment.bytes": "Size at which the active segment is rolled.",
    "segment.index.bytes": "Size of each segment's offset and time indexes.",
    "segment.jitter.ms": "Random jitter subtracted from segment.ms, so segments do not all roll at once.",
    "segment.ms": "Time after which the active segment is rolled even when not full.",
    "unclean.leader.election.enable": "Allow an out-of-sync replica to become leader (may lose acknowledged "
    "records).",
    "message.downconversion.enable": "Convert records to old formats for old consumers.",
}
