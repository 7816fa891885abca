"""Re-encoding batches with another codec: topics whose compression.type is not `producer`.

The only produce-path code that decodes records; it runs only when a topic names a codec that
differs from the producer's, as Kafka does. Batch-level producer metadata is kept.
"""

from __future__ import annotations

from brook.records.batch import BatchHeader, Compression
from brook.records.records import build_batch, decode_records

__all__ = ["CODEC_BY_NAME", "recompress"]

CODEC_BY_NAME = {
    "uncompressed": Compression.none,
    "gzip": Compression.gzip,
    "snappy": Compression.snappy,
    "lz4": Compression.lz4,
    "zstd": Compression.zstd,
}


def recompress(data: bytearray, batches: list[tuple[int, BatchHeader]], codec: int) -> bytearray:
    """`data` with every batch whose codec differs from `codec` rebuilt with `codec`."""
    if all(header.compression == codec for _, header in batches):
        return data
    out = bytearray()
    for pos, header in batches:
        raw = memoryview(data)[pos : pos + header.size]
        if header.compression == codec:
            out += raw
            continue
        out += build_batch(
            decode_records(raw, header),
            base_offset=header.base_offset,
            attributes=(header.attributes & ~0x07) | codec,
            partition_leader_epoch=header.partition_leader_epoch,
            producer_id=header.producer_id,
            producer_epoch=header.producer_epoch,
            base_sequence=header.base_sequence,
            last_offset_delta=header.last_offset_delta,
            base_timestamp=header.base_timestamp,
            max_timestamp=header.max_timestamp,
        )
    return out
