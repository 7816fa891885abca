"""Re-encoding batches with another codec: topics whose compression.type is not `producer`.

The only produce-path code that decodes records; it runs only when a topic names a codec that
differs from the producer's, as Kafka does. Batch-level producer metadata is kept.
"""

from __future__ import annotations

from brook.records.batch import BatchHeader, Compression
from brook.records.records import decode_records, rebuild_batch

__all__ = ["CODEC_BY_NAME", "recompress"]

CODEC_BY_NAME = {
    "uncompressed": Compression.none,
    "gzip": Compression.gzip,
    "snappy": Compression.snappy,
    "lz4": Compression.lz4,
    "zstd": Compression.zstd,
}


def recompress(
    data: bytearray | memoryview, batches: list[tuple[int, BatchHeader]], codec: int
) -> bytearray | memoryview:
    """`data` with every batch whose codec differs from `codec` rebuilt with `codec`."""
    if all(header.compression == codec for _, header in batches):
        return data
    out = bytearray()
    for pos, header in batches:
        raw = memoryview(data)[pos : pos + header.size]
        if header.compression == codec:
            out += raw
            continue
        out += rebuild_batch(header, decode_records(raw, header), codec=codec)
    return out
