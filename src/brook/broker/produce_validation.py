"""The produce path before the log: Kafka's batch validation, off the event loop when it is costly, while
appends still reach each partition in the order their requests arrived.

A Produce request reserves its turn on every partition it names as soon as its handler starts (handlers
start in arrival order), validates, then appends each partition when the requests before it on that
partition are done. Small payloads are validated inline: up to `INLINE_INFLATE_BYTES` and
`INLINE_VALIDATION_RECORDS`, compressed ones too as long as they inflate to no more than
`INLINE_INFLATE_BYTES` (past that the inline attempt stops, and the thread validates them with the topic's
real bound); up to `INLINE_VALIDATION_BYTES` when each partition's data is one uncompressed batch (what
clients send; its header says so, read before any work). A single-record batch, compressed by default by
franz-go and librdkafka, costs far less inline than the thread hand-off (a submit, a wake-up, the GIL passed
twice).
Anything else goes to one worker thread (CRC32C, zlib, lz4 and zstd release the GIL; the Python record scan
yields it every switch interval), so a 100 MB request never holds the loop for long, and a greedy producer
queues behind its own requests, not in front of everyone's.

The bounds come from a measurement (2026-12-01, the 2-core Xeon the bench runs on, load 0.5-2.5, medians of
100-300 runs): CRC32C (the `crc32c` library) costs 0.034 us/KiB; CRC, header checks and the C record scan
(`_fastscan.c`) of 1 KiB records together 12-21 us for 100-128 KiB, 33 us for 256 KiB, 102 us for 1 MiB; the
hand-off to the thread and back costs 108 us with no work at all (the thread's wake-up and the loop's), 120 us
with a 100 KiB batch. Records dense with headers cost the most per byte: ~1.6 us/KiB (155-198 us for 128 KiB,
392 us for 256 KiB). The stall budget is ~0.2 ms of loop time per request in that worst case: one uncompressed
batch up to 128 KiB (a transaction's 100 x 1 KiB) is validated inline, where it usually costs a tenth of the
hand-off. The Python record scan (no C compiler where brook was built) is 0.75 us/KiB with plain records (54
us for 64 KiB) and far more with headers: then the walked bound below applies. Compressed batches keep the
64 KiB bound (inflating costs more per byte), and so do payloads of many batches (each batch header is parsed
in Python, a few us each).

Where every record must be looked into (a compacted topic's keys, a timestamp bound, a batch claiming
LogAppendTime: `validator.checks_each_record`), or the C scan is not built, the records are walked in Python
field by field: measured (2026-12-01, same machine) 107 us for 2.4 KiB of small keyed records, 203 us for
2.2 KiB of records with 50 headers each, 6.2 ms for 65 KiB of those. Such a payload is validated inline only up
to `INLINE_WALKED_BYTES` (on the wire, and inflated), the same ~0.2 ms budget; anything bigger goes to the
thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from brook.common.errors import BrookError, InvalidRecord, MessageTooLarge
from brook.common.types import TopicPartition
from brook.records.batch import BatchHeader, validate_batches
from brook.records.record_scan import FAST_SCAN
from brook.records.validator import ValidationPolicy, checks_each_record, validate_records
from brook.storage.api import LogConfig

__all__ = [
    "INLINE_INFLATE_BYTES",
    "INLINE_VALIDATION_BYTES",
    "INLINE_WALKED_BYTES",
    "AppendTurn",
    "ProduceValidator",
    "policy_for",
]

INLINE_INFLATE_BYTES = 64 * 1024  # compressed payloads: on the wire, and inflated per batch
INLINE_VALIDATION_BYTES = 128 * 1024  # one uncompressed batch a partition, records framed by the C scan
# records walked in Python (checks on each record, or no C scan): measured above
INLINE_WALKED_BYTES = 2 * 1024
INLINE_VALIDATION_RECORDS = 500  # ~1 ms of record scanning on the loop at most
# v2 batch header (KAFKA-NOTES.md): batchLength int32 at byte 8 (counts the bytes after it, from byte 12),
# attributes int16 at byte 21 (the codec in its low 3 bits, the timestamp type in bit 3), recordsCount int32
# at byte 57, the header's last field (61 bytes). _HEADER_FIELDS reads the three from byte 8 in one call.
_BATCH_LENGTH_AT = 8
_ATTRIBUTES_AT = 21
_RECORDS_COUNT_AT = 57
_HEADER_BYTES = _RECORDS_COUNT_AT + 4
_HEADER_FIELDS = struct.Struct(
    f">i{_ATTRIBUTES_AT - _BATCH_LENGTH_AT - 4}xh{_RECORDS_COUNT_AT - _ATTRIBUTES_AT - 2}xi"
)
_INT16 = struct.Struct(">h")
_LENGTH_COUNTED_FROM = 12
_CODEC_MASK = 0x07
_TIMESTAMP_TYPE_BIT = 0x08  # attributes bit 3: LogAppendTime


def policy_for(config: LogConfig, max_uncompressed_bytes: int) -> ValidationPolicy:
    return ValidationPolicy(
        log_append_time=config.message_timestamp_type == "LogAppendTime",
        timestamp_before_max_ms=config.message_timestamp_before_max_ms,
        timestamp_after_max_ms=config.message_timestamp_after_max_ms,
        require_keys=config.compact,
        max_uncompressed_bytes=max_uncompressed_bytes,
    )


@dataclass(slots=True)
class ValidationJob:
    data: bytearray | memoryview
    config: LogConfig | None  # None: the partition is not hosted here; the append answers for it
    # set by a validation that passed: each batch's (position, header), which the append then need not read again
    batches: list[tuple[int, BatchHeader]] | None = None


class AppendTurn:
    """One request's place in a partition's append order."""

    def __init__(self, before: asyncio.Future[None] | None, own: asyncio.Future[None]) -> None:
        self._before = before
        self.own = own

    async def wait(self) -> None:
        if self._before is not None and not self._before.done():
            await asyncio.shield(self._before)

    def done(self) -> None:
        if not self.own.done():
            self.own.set_result(None)


class _InflatesPastInline(Exception):
    """An inline validation met a compressed batch inflating past INLINE_INFLATE_BYTES."""


class ProduceValidator:
    def __init__(self, max_uncompressed_bytes: int) -> None:
        self.max_uncompressed_bytes = max_uncompressed_bytes
        self._tails: dict[TopicPartition, asyncio.Future[None]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brook-validate")
        # configs rarely change: (config, its policy, the same capped for an inline attempt)
        self._last_policy: tuple[LogConfig, ValidationPolicy, ValidationPolicy] | None = None
        self.offloaded = 0  # validations run on the worker thread (the rest ran inline)

    def reserve(self, tp: TopicPartition) -> AppendTurn:
        """Take the next turn on `tp` (call before the handler's first await)."""
        own: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        before = self._tails.get(tp)
        self._tails[tp] = own
        own.add_done_callback(lambda future: self._forget(tp, future))
        return AppendTurn(before, own)

    def _forget(self, tp: TopicPartition, future: asyncio.Future[None]) -> None:
        if self._tails.get(tp) is future:
            del self._tails[tp]

    def busy(self, tp: TopicPartition) -> bool:
        """Does a request hold or wait for a turn on `tp` (an append to it is under way)?"""
        return tp in self._tails

    async def validate(self, jobs: list[ValidationJob], now_ms: int) -> list[BrookError | None]:
        """Each job's error (or None); inline when cheap, else on the validation thread."""
        errors = self.validate_now(jobs, now_ms)
        if errors is not None:
            return errors
        self.offloaded += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._validate_all, jobs, now_ms)

    def validate_now(self, jobs: list[ValidationJob], now_ms: int) -> list[BrookError | None] | None:
        """Each job's error (or None) when the jobs are cheap enough to validate inline (module docstring);
        None when they are not: then the validation thread is the place."""
        size = sum(len(job.data) for job in jobs)
        headed = [(job, _first_header(job.data)) for job in jobs]  # one read of each first batch's header
        walked = any(self._walks_records(job, header) for job, header in headed)
        inflate_cap = INLINE_WALKED_BYTES if walked else INLINE_INFLATE_BYTES
        if (
            size <= inflate_cap
            or (
                not walked
                and size <= INLINE_VALIDATION_BYTES
                and all(_one_plain_batch(job.data, header) for job, header in headed)
            )
        ) and sum(_records_count(job.data, header) for job, header in headed) <= INLINE_VALIDATION_RECORDS:
            try:
                return self._validate_all(jobs, now_ms, inline=True, inflate_cap=inflate_cap)
            except _InflatesPastInline:
                pass  # a small compressed batch holding more: the thread validates it in full
        return None

    def _walks_records(self, job: ValidationJob, header: _Header) -> bool:
        """Will validating `job` walk its records in Python (slow per byte: module docstring)?"""
        if job.config is None:
            return False
        if not FAST_SCAN:
            return True
        policy, _ = self._policies(job.config)
        return checks_each_record(policy, _timestamp_type(header))

    def _validate_all(
        self, jobs: list[ValidationJob], now_ms: int, *, inline: bool = False, inflate_cap: int = 0
    ) -> list[BrookError | None]:
        errors: list[BrookError | None] = []
        for job in jobs:
            try:
                self._validate_one(job, now_ms, inline, inflate_cap)
                errors.append(None)
            except BrookError as exc:
                errors.append(exc)
        return errors

    def _validate_one(self, job: ValidationJob, now_ms: int, inline: bool, inflate_cap: int) -> None:
        if job.config is None:
            return
        if not job.data:
            raise InvalidRecord("empty record set")
        batches = validate_batches(job.data, max_batch_bytes=job.config.max_message_bytes)
        policy, capped = self._policies(job.config)
        if not inline:
            validate_records(job.data, batches, policy, now_ms)
            job.batches = batches
            return
        if inflate_cap < capped.max_uncompressed_bytes:  # records walked in Python: a lower inflate bound
            capped = dataclasses.replace(capped, max_uncompressed_bytes=inflate_cap)
        try:  # the cap only bounds inflating: an uncompressed batch is checked the same either way
            validate_records(job.data, batches, capped, now_ms)
        except MessageTooLarge:
            if capped.max_uncompressed_bytes < policy.max_uncompressed_bytes:
                raise _InflatesPastInline from None
            raise
        job.batches = batches

    def _policies(self, config: LogConfig) -> tuple[ValidationPolicy, ValidationPolicy]:
        last = self._last_policy  # one tuple read: the loop and the worker thread may both be here
        if last is not None and last[0] is config:
            return last[1], last[2]
        policy = policy_for(config, self.max_uncompressed_bytes)
        capped = dataclasses.replace(
            policy, max_uncompressed_bytes=min(policy.max_uncompressed_bytes, INLINE_INFLATE_BYTES)
        )
        self._last_policy = (config, policy, capped)
        return policy, capped

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# The first batch's (batchLength, attributes, recordsCount), as its header claims them (read before any
# validation: a lie only changes where the work runs, never the answer).
_Header = tuple[int, int, int]


def _first_header(data: bytearray | memoryview) -> _Header:
    """One read of the first batch's header fields; data too short for a header (61 bytes) gives 0 for the
    length and count, and the attributes if it holds them (else 0)."""
    if len(data) >= _HEADER_BYTES:
        return _HEADER_FIELDS.unpack_from(data, _BATCH_LENGTH_AT)
    if len(data) >= _ATTRIBUTES_AT + 2:
        return 0, _INT16.unpack_from(data, _ATTRIBUTES_AT)[0], 0
    return 0, 0, 0


def _one_plain_batch(data: bytearray | memoryview, header: _Header) -> bool:
    """Does the header say `data` is one uncompressed batch (a wrong length is caught by the validation)?"""
    if len(data) < _HEADER_BYTES:
        return not data  # empty: nothing to scan (a partition not hosted here, or refused as empty)
    length, attributes, _ = header
    return _LENGTH_COUNTED_FROM + length == len(data) and not attributes & _CODEC_MASK


def _timestamp_type(header: _Header) -> int:
    """The first batch's timestamp type from its attributes (1: LogAppendTime); 0 if too short to say."""
    return 1 if header[1] & _TIMESTAMP_TYPE_BIT else 0


def _records_count(data: bytearray | memoryview, header: _Header) -> int:
    """What the first batch claims (a lie only sends the work to the thread)."""
    if len(data) < _HEADER_BYTES:
        return 0
    count = header[2]
    return count if count > 0 else INLINE_VALIDATION_RECORDS + 1
