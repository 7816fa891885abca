"""The produce path before the log: Kafka's batch validation, off the event loop when it is costly, while
appends still reach each partition in the order their requests arrived.

A Produce request reserves its turn on every partition it names as soon as its handler starts (handlers
start in arrival order), validates, then appends each partition when the requests before it on that
partition are done. Small payloads (up to `INLINE_VALIDATION_BYTES` and `INLINE_VALIDATION_RECORDS`) are
validated inline, compressed ones too as long as they inflate to no more than `INLINE_VALIDATION_BYTES`
(past that the inline attempt stops, and the thread validates them with the topic's real bound): a
single-record batch, compressed by default by franz-go and librdkafka, costs far less inline than the
thread hand-off (a submit, a wake-up, the GIL passed twice). Anything else goes to one worker thread (CRC32C,
zlib, lz4 and zstd release the GIL; the Python record scan yields it every switch interval), so a
100 MB request never holds the loop for long, and a greedy producer queues behind its own requests,
not in front of everyone's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from brook.common.errors import BrookError, InvalidRecord, MessageTooLarge
from brook.common.types import TopicPartition
from brook.records.batch import validate_batches
from brook.records.validator import ValidationPolicy, validate_records
from brook.storage.api import LogConfig

__all__ = ["INLINE_VALIDATION_BYTES", "AppendTurn", "ProduceValidator", "policy_for"]

INLINE_VALIDATION_BYTES = 64 * 1024
INLINE_VALIDATION_RECORDS = 500  # ~1 ms of record scanning on the loop at most
_RECORDS_COUNT = struct.Struct(">i")
_RECORDS_COUNT_AT = 57


def policy_for(config: LogConfig, max_uncompressed_bytes: int) -> ValidationPolicy:
    return ValidationPolicy(
        log_append_time=config.message_timestamp_type == "LogAppendTime",
        timestamp_before_max_ms=config.message_timestamp_before_max_ms,
        timestamp_after_max_ms=config.message_timestamp_after_max_ms,
        require_keys=config.compact,
        max_uncompressed_bytes=max_uncompressed_bytes,
    )


@dataclass(frozen=True, slots=True)
class ValidationJob:
    data: bytearray | memoryview
    config: LogConfig | None  # None: the partition is not hosted here; the append answers for it


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
    """An inline validation met a compressed batch inflating past INLINE_VALIDATION_BYTES."""


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

    async def validate(self, jobs: list[ValidationJob], now_ms: int) -> list[BrookError | None]:
        """Each job's error (or None); inline when cheap, else on the validation thread."""
        if (
            sum(len(job.data) for job in jobs) <= INLINE_VALIDATION_BYTES
            and sum(_records_count(job.data) for job in jobs) <= INLINE_VALIDATION_RECORDS
        ):
            try:
                return self._validate_all(jobs, now_ms, inline=True)
            except _InflatesPastInline:
                pass  # a small compressed batch holding more: the thread validates it in full
        self.offloaded += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._validate_all, jobs, now_ms)

    def _validate_all(
        self, jobs: list[ValidationJob], now_ms: int, *, inline: bool = False
    ) -> list[BrookError | None]:
        errors: list[BrookError | None] = []
        for job in jobs:
            try:
                self._validate_one(job, now_ms, inline)
                errors.append(None)
            except BrookError as exc:
                errors.append(exc)
        return errors

    def _validate_one(self, job: ValidationJob, now_ms: int, inline: bool) -> None:
        if job.config is None:
            return
        if not job.data:
            raise InvalidRecord("empty record set")
        batches = validate_batches(job.data, max_batch_bytes=job.config.max_message_bytes)
        policy, capped = self._policies(job.config)
        if not inline:
            validate_records(job.data, batches, policy, now_ms)
            return
        try:  # the cap only bounds inflating: an uncompressed batch is checked the same either way
            validate_records(job.data, batches, capped, now_ms)
        except MessageTooLarge:
            if capped.max_uncompressed_bytes < policy.max_uncompressed_bytes:
                raise _InflatesPastInline from None
            raise

    def _policies(self, config: LogConfig) -> tuple[ValidationPolicy, ValidationPolicy]:
        last = self._last_policy  # one tuple read: the loop and the worker thread may both be here
        if last is not None and last[0] is config:
            return last[1], last[2]
        policy = policy_for(config, self.max_uncompressed_bytes)
        capped = dataclasses.replace(
            policy, max_uncompressed_bytes=min(policy.max_uncompressed_bytes, INLINE_VALIDATION_BYTES)
        )
        self._last_policy = (config, policy, capped)
        return policy, capped

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _records_count(data: bytearray | memoryview) -> int:
    """What the first batch claims (a lie only sends the work to the thread)."""
    if len(data) < _RECORDS_COUNT_AT + 4:
        return 0
    count: int = _RECORDS_COUNT.unpack_from(data, _RECORDS_COUNT_AT)[0]
    return count if count > 0 else INLINE_VALIDATION_RECORDS + 1
