"""Fetch response encoder for the hot path: record bytes are passed through, never re-encoded.

kio would copy every partition's records into one buffer; this writes the small fields by hand and
returns a list of chunks that holds the record bytes as they came from the segment files, so the
socket layer can `writelines` them. tests/unit/protocol/test_fetch_response.py checks the output
byte for byte against kio for v4-12; v0-3, which kio lacks, against hand-written layouts in
tests/unit/protocol/test_legacy_codec.py.

Layout (v0-v11; v12 uses compact arrays/strings/bytes and empty tagged-field sections):
    v1+ throttle_time_ms int32, [v7+ error_code int16, session_id int32],
    [topic string, [partition int32, error_code int16, high_watermark int64, v4+ last_stable_offset int64,
                    v5+ log_start_offset int64, v4+ aborted_transactions nullable array,
                    v11+ preferred_read_replica int32, records nullable bytes]]
"""

from __future__ import annotations

import struct
from collections.abc import Sequence, Sized
from dataclasses import dataclass

from brook.protocol.varint import encode_uvarint

__all__ = ["FetchPartitionData", "encode_fetch_response"]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_PARTITION_HEAD = struct.Struct(">ihqq")  # partition, error_code, high_watermark, last_stable_offset
_PARTITION_HEAD_V0 = struct.Struct(">ihq")  # partition, error_code, high_watermark (v0-3)
_I64 = struct.Struct(">q")
_ABORTED = struct.Struct(">qq")  # producer_id, first_offset


@dataclass(slots=True)
class FetchPartitionData:
    partition_index: int
    error_code: int
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    # chunks, sent as they are: bytes, or what the connection sends from a file (broker/zero_copy.py's
    # FileRange: its len() is its size); empty means no records
    records: Sequence[Sized]
    records_size: int
    diverging_epoch: tuple[int, int] | None = None  # v12+ (KIP-320): (epoch, end offset) for a follower
    # v4+ read_committed: (producer_id, first_offset) of aborted transactions in the range; None: null
    aborted_transactions: Sequence[tuple[int, int]] | None = None


def encode_fetch_response(
    version: int,
    topics: Sequence[tuple[str, Sequence[FetchPartitionData]]],
    *,
    throttle_time_ms: int = 0,
    error_code: int = 0,
    session_id: int = 0,
) -> list[Sized]:
    flexible = version >= 12
    chunks: list[Sized] = []
    head = bytearray(_I32.pack(throttle_time_ms) if version >= 1 else b"")
    if version >= 7:
        head += _I16.pack(error_code) + _I32.pack(session_id)
    head += encode_uvarint(len(topics) + 1) if flexible else _I32.pack(len(topics))
    for name, partitions in topics:
        encoded = name.encode()
        head += (encode_uvarint(len(encoded) + 1) if flexible else _I16.pack(len(encoded))) + encoded
        head += encode_uvarint(len(partitions) + 1) if flexible else _I32.pack(len(partitions))
        for p in partitions:
            if version < 4:  # v0-3 (message sets of magic 0/1): no last stable offset, no transactions
                head += _PARTITION_HEAD_V0.pack(p.partition_index, p.error_code, p.high_watermark)
            else:
                head += _PARTITION_HEAD.pack(
                    p.partition_index, p.error_code, p.high_watermark, p.last_stable_offset
                )
            if version >= 5:
                head += _I64.pack(p.log_start_offset)
            # aborted_transactions: null on error, else [producer_id int64, first_offset int64]
            # (each element ends with an empty tagged-field section in v12); empty for read_uncommitted
            aborted = None if p.error_code else (p.aborted_transactions or ())
            if flexible:
                head += b"\x00" if aborted is None else encode_uvarint(len(aborted) + 1)
            elif version >= 4:
                head += _I32.pack(-1 if aborted is None else len(aborted))
            if version >= 4 and aborted:
                for producer_id, first_offset in aborted:
                    head += _ABORTED.pack(producer_id, first_offset) + (b"\x00" if flexible else b"")
            if version >= 11:
                head += _I32.pack(-1)
            if flexible:
                head += encode_uvarint(p.records_size + 1)
            else:
                head += _I32.pack(p.records_size)
            if p.records_size:
                chunks.append(bytes(head))
                chunks.extend(p.records)
                head = bytearray()
            if flexible and p.diverging_epoch is not None:
                # one tagged field, tag 0: EpochEndOffset {epoch int32, end_offset int64, tagged fields}
                epoch, end_offset = p.diverging_epoch
                head += b"\x01\x00\x0d" + _I32.pack(epoch) + _I64.pack(end_offset) + b"\x00"
            elif flexible:
                head += b"\x00"  # partition tagged fields
        if flexible:
            head += b"\x00"  # topic tagged fields
    if flexible:
        head += b"\x00"  # response tagged fields
    chunks.append(bytes(head))
    return chunks
