"""Produce (key 0): append producers' batches, as opaque bytes, to partition leaders.

The request arrives decoded by protocol/produce.py: each partition's records are a writable view
into the request frame, appended to the log as they are. The response is encoded there too.
Before the append, Kafka's batch validation (broker/produce_validation.py, records/validator.py); clients
may not append to internal topics (INVALID_TOPIC_EXCEPTION, as Kafka's ReplicaManager answers).

v0-2 carry message sets of magic 0/1 (Kafka 3.x accepts them; librdkafka before 2.11.1 also turns
compression off when Produce's minimum version is above 0, librdkafka #4956, KAFKA-18659): each is
up-converted to one v2 batch (records/message_sets.py), then validated and appended like any other.
"""

import asyncio
import logging
import struct
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from brook.broker.authorization import TopicAuthorizationFailed, TransactionalIdAuthorizationFailed
from brook.broker.handlers.base import NOT_NOW, RequestContext, error_entry, handles
from brook.broker.produce_validation import INLINE_VALIDATION_BYTES, AppendTurn, ValidationJob
from brook.broker.replica_manager import ReplicationCheck
from brook.broker.request_metrics import note_errors
from brook.common.errors import BrookError, CorruptMessage, ErrorCode, InvalidTopic
from brook.common.types import TopicPartition
from brook.protocol.produce import (
    ProducePartition,
    ProducePartitionResult,
    ProduceRequest,
    encode_produce_response,
)
from brook.records import message_sets
from brook.security.acl import AclOperation, ResourceType
from brook.storage.api import LogConfig

logger = logging.getLogger(__name__)

# Kafka's Topic.INTERNAL_TOPICS: only the broker itself (and the admin client id) appends to them.
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
ADMIN_CLIENT_ID = "__admin_client"
_YIELD_EVERY_BYTES = 1024 * 1024
_MAX_INFLATED_BYTES = 64 * 1024 * 1024  # a compressed v0/v1 message may inflate to this much
_REJECTED = (ErrorCode.corrupt_message, ErrorCode.invalid_record, ErrorCode.invalid_timestamp)


_Entry = tuple[str, ProducePartition, TopicPartition]


@dataclass(slots=True)
class _Outcome:
    result: ProducePartitionResult
    base_offset: int = -1
    record_count: int = 0


def produce_now(ctx: RequestContext, req: ProduceRequest) -> Any:
    """Produce without a task of its own, when nothing in it needs to wait: the records are validated inline,
    no other request is appending to any of its partitions, no client quota is set (so no throttle) and the
    request is v3+ (no message set to up-convert on a thread). Then the whole request runs here, from the
    connection's read, and an acks=all request leaves only its wait for the ISR to a task. Anything else
    answers NOT_NOW before doing anything, and `produce` handles it (its turns keep the arrival order: the
    connection takes this path only once every earlier Produce on it holds its turns)."""
    broker = ctx.broker
    validator = broker.produce_validator
    if ctx.version < 3 or broker.quotas.configs:
        return NOT_NOW
    size = sum(len(_records(p)) for topic in req.topic_data for p in topic.partition_data)
    if size > INLINE_VALIDATION_BYTES:
        return NOT_NOW  # never validated inline (produce_validation.py): no need to look further
    entries = _entries(req)
    if any(validator.busy(tp) for _, _, tp in entries):
        return NOT_NOW
    refused = _refusals(ctx, req)
    jobs = _jobs(ctx, entries, refused, {})
    errors = validator.validate_now(jobs, broker.clock.now_ms())
    if errors is None:
        return NOT_NOW
    ctx.request.turns_taken = True  # appended below, before anything else runs: in order
    results = [
        _append_one(ctx, req.acks, entry, refused.get(entry[0]) or error, job)
        for entry, error, job in zip(entries, errors, jobs, strict=True)
    ]
    return _respond(ctx, req, results, 0)


@handles(0, versions=range(0, 10), now=produce_now)
async def produce(ctx: RequestContext, req: ProduceRequest) -> bytes | None:
    validator = ctx.broker.produce_validator
    # Turns first, before any await: appends to each partition keep the order requests arrived in.
    entries = _entries(req)
    turns = [validator.reserve(tp) for _, _, tp in entries]
    ctx.request.turns_taken = True
    refused = _refusals(ctx, req)
    try:
        not_converted = await _up_convert(ctx, entries) if ctx.version < 3 else {}
        jobs = _jobs(ctx, entries, refused, not_converted)
        errors = await validator.validate(jobs, ctx.broker.clock.now_ms())
        errors = [
            refused.get(topic) or not_converted.get(i, error)
            for i, ((topic, _, _), error) in enumerate(zip(entries, errors, strict=True))
        ]
        results = await _append_in_turn(ctx, req.acks, entries, turns, errors, jobs)
    finally:
        for turn in turns:
            turn.done()
    throttle_ms = ctx.broker.quotas.record_produce(ctx, sum(len(_records(p)) for _, p, _ in entries))
    await ctx.broker.quotas.throttle(ctx, throttle_ms)
    answer = _respond(ctx, req, results, throttle_ms)
    return await answer if isinstance(answer, Awaitable) else answer


def _entries(req: ProduceRequest) -> list[_Entry]:
    return [
        (topic.name, p, TopicPartition(topic.name, p.index))
        for topic in req.topic_data
        for p in topic.partition_data
    ]


def _jobs(
    ctx: RequestContext,
    entries: list[_Entry],
    refused: dict[str, BrookError],
    not_converted: dict[int, BrookError],
) -> list[ValidationJob]:
    """What the validator checks: each partition's records against its topic's config, or nothing (None) for a
    partition refused already or not led here (the append answers for it)."""
    return [
        ValidationJob(_records(p), None if i in not_converted or topic in refused else _config_of(ctx, tp))
        for i, (topic, p, tp) in enumerate(entries)
    ]


def _respond(
    ctx: RequestContext,
    req: ProduceRequest,
    results: list[tuple[TopicPartition, _Outcome]],
    throttle_ms: int,
) -> Awaitable[bytes | None] | bytes | None:
    """The response once the records are appended: none for acks=0 (whose producer is cut off after an error),
    the encoded answer, or for acks=all one to await while the ISR catches up."""
    if req.acks == 0:
        errors_seen = {
            str(tp): ErrorCode(r.result.error_code).name for tp, r in results if r.result.error_code
        }
        if errors_seen:  # it would never learn of the error: Kafka closes an acks=0 producer's connection
            logger.info(
                "closing connection of an acks=0 producer principal=%s client_id=%s after errors: %s",
                ctx.principal,
                ctx.client_id,
                ", ".join(f"{tp}={name}" for tp, name in sorted(errors_seen.items())),
            )
            close = getattr(ctx.channel, "close_after_response", None)
            if close is not None:
                close()
        return None  # acks=0: the producer expects no response at all
    appended = [(tp, r.base_offset + r.record_count) for tp, r in results if r.record_count]
    if req.acks == -1 and appended:
        check = ctx.broker.replicas.replication_check(appended)
        if check.pending:
            return _respond_replicated(ctx, results, check, req.timeout_ms, throttle_ms)
        results = _with_failures(results, check.failed)
    return _encode(ctx, results, throttle_ms)


async def _respond_replicated(
    ctx: RequestContext,
    results: list[tuple[TopicPartition, _Outcome]],
    check: ReplicationCheck,
    timeout_ms: int,
    throttle_ms: int,
) -> bytes:
    failed = await ctx.broker.replicas.wait_for(check, timeout_ms)
    return _encode(ctx, _with_failures(results, failed), throttle_ms)


def _with_failures(
    results: list[tuple[TopicPartition, _Outcome]], failed: dict[TopicPartition, ErrorCode]
) -> list[tuple[TopicPartition, _Outcome]]:
    if not failed:
        return results
    return [
        (tp, _Outcome(ProducePartitionResult(tp.partition, failed[tp])) if tp in failed else r)
        for tp, r in results
    ]


def _encode(ctx: RequestContext, results: list[tuple[TopicPartition, _Outcome]], throttle_ms: int) -> bytes:
    topics: dict[str, list[ProducePartitionResult]] = {}
    for tp, result in results:
        topics.setdefault(tp.topic, []).append(result.result)
    note_errors(result.result.error_code for _, result in results)  # ErrorsPerSec (request_metrics.py)
    return encode_produce_response(ctx.version, list(topics.items()), throttle_time_ms=throttle_ms)


def _refusals(ctx: RequestContext, req: ProduceRequest) -> dict[str, BrookError]:
    """Topics this producer may not write to (WRITE on the topic; a transactional producer also needs WRITE
    on its transactional id, else every partition is refused), as Kafka checks before appending."""
    if ctx.broker.authorizer is None:
        return {}  # no authorizer: everything is allowed (RequestContext.authorize)
    names = {topic.name for topic in req.topic_data}
    if req.transactional_id is not None and not ctx.authorize(
        AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactional_id
    ):
        return dict.fromkeys(names, TransactionalIdAuthorizationFailed())
    return {
        name: TopicAuthorizationFailed()
        for name in names
        if not ctx.authorize(AclOperation.WRITE, ResourceType.TOPIC, name)
    }


async def _append_in_turn(
    ctx: RequestContext,
    acks: int,
    entries: list[_Entry],
    turns: list[AppendTurn],
    errors: list[BrookError | None],
    validated: list[ValidationJob],
) -> list[tuple[TopicPartition, _Outcome]]:
    """Append each partition when its turn comes; yield the loop after every few MiB written."""
    results: list[tuple[TopicPartition, _Outcome]] = []
    unyielded_bytes = 0
    for entry, turn, error, job in zip(entries, turns, errors, validated, strict=True):
        await turn.wait()
        try:
            results.append(_append_one(ctx, acks, entry, error, job))
        finally:
            turn.done()
        unyielded_bytes += len(job.data)
        if unyielded_bytes >= _YIELD_EVERY_BYTES:
            unyielded_bytes = 0
            await asyncio.sleep(0)  # a 100 MB request: others' requests run between its partitions
    return results


def _append_one(
    ctx: RequestContext, acks: int, entry: _Entry, error: BrookError | None, job: ValidationJob
) -> tuple[TopicPartition, _Outcome]:
    """Append one partition's records, or answer its error. A partition the validator checked (its job's
    config set) is not CRC-checked again by the append; one it skipped (not led here then, led by now) is
    checked in full there."""
    topic, p, tp = entry
    try:
        if error is not None:
            raise error  # an authorization error comes first, as in Kafka
        if topic in INTERNAL_TOPICS and ctx.client_id != ADMIN_CLIENT_ID:
            raise InvalidTopic(f"Cannot append to internal topic {topic}")
        data = job.data
        info = ctx.broker.replicas.append_records(
            tp, data, required_acks=acks, validated_with=job.config, batches=job.batches
        )
        count = info.last_offset + 1 - info.first_offset
        topic_stats = ctx.broker.stats.topic(topic)
        topic_stats.bytes_in += len(data)
        topic_stats.messages_in += count
        return tp, _Outcome(
            ProducePartitionResult(
                p.index, 0, info.first_offset, info.log_append_time_ms, info.log_start_offset
            ),
            info.first_offset,
            count,
        )
    except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
        entry_error = error_entry(exc)
        if entry_error["error_code"] in _REJECTED:
            ctx.broker.stats.produce_rejected += 1
        return tp, _Outcome(
            ProducePartitionResult(
                p.index,
                entry_error["error_code"],
                error_message=entry_error["error_message"],
                record_errors=getattr(exc, "record_errors", ()),
            )
        )


def _records(p: ProducePartition) -> bytearray | memoryview:
    return p.records if p.records is not None else bytearray()


def _config_of(ctx: RequestContext, tp: TopicPartition) -> LogConfig | None:
    """The topic's settings to validate against; None skips validation (the append answers instead)."""
    if tp.topic in INTERNAL_TOPICS and ctx.client_id != ADMIN_CLIENT_ID:
        return None  # refused as INVALID_TOPIC_EXCEPTION before its bytes are even looked at
    partition = ctx.broker.replicas.partitions.get(tp)
    return partition.config if partition is not None and partition.is_leader else None


async def _up_convert(ctx: RequestContext, entries: list[_Entry]) -> dict[int, BrookError]:
    """Produce v0-2: each partition's message set becomes one v2 batch, in place of its records, on a
    worker thread (a few KiB of gzip may hold thousands of records). Returns the conversion errors by
    entry index (CORRUPT_MESSAGE for a bad CRC, INVALID_RECORD, MESSAGE_TOO_LARGE,
    UNSUPPORTED_COMPRESSION_TYPE), as Kafka's LogValidator answers them."""
    if not any(message_sets.is_legacy(_records(p)) for _, p, _ in entries):
        return {}  # v2 batches in an old request (Kafka allows them there)
    configs = [_config_of(ctx, tp) for _, _, tp in entries]
    return await asyncio.to_thread(
        _convert_all, entries, [c.max_message_bytes if c else None for c in configs]
    )


def _convert_all(entries: list[_Entry], max_message_bytes: list[int | None]) -> dict[int, BrookError]:
    failed: dict[int, BrookError] = {}
    for i, ((_, p, _), max_bytes) in enumerate(zip(entries, max_message_bytes, strict=True)):
        data = _records(p)
        if not message_sets.is_legacy(data):
            continue  # v2 batches (or garbage) go to the validator as they are
        try:
            p.records = memoryview(message_sets.to_v2_batch(data, _MAX_INFLATED_BYTES, max_bytes))
        except BrookError as exc:
            failed[i] = exc
        except (ValueError, IndexError, struct.error) as exc:
            failed[i] = CorruptMessage(f"malformed message set: {exc}")
    return failed
