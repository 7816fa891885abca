"""Record batches (magic v2) as bytes: header parsing, CRC32C checks, offset patching. No I/O."""

from brook.records.batch import (
    BATCH_HEADER_SIZE,
    BatchHeader,
    Compression,
    TimestampType,
    iter_batches,
    parse_header,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
    validate_batches,
)

__all__ = [
    "BATCH_HEADER_SIZE",
    "BatchHeader",
    "Compression",
    "TimestampType",
    "iter_batches",
    "parse_header",
    "set_base_offset",
    "set_log_append_time",
    "set_partition_leader_epoch",
    "validate_batches",
]
