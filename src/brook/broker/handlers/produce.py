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
from dataclasses import dataclass

from brook.broker.authorization import TopicAuthorizationFailed, TransactionalIdAuthorizationFailed
from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.broker.produce_validation import AppendTurn, ValidationJob
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


@handles(0, versions=range(0, 10))
async def produce(ctx: RequestContext, req: ProduceRequest) -> bytes | None:
    validator = ctx.broker.produce_validator
    # Turns first, before any await: appends to each partition keep the order requests arrived in.
    entries = [
        (topic.name, p, TopicPartition(topic.name, p.index))
        for topic in req.topic_data
        for p in topic.partition_data
    ]
    turns = [validator.reserve(tp) for _, _, tp in entries]
    refused = _refusals(ctx, req)
    try:
        not_converted = await _up_convert(ctx, entries) if ctx.version < 3 else {}
        jobs = [
            ValidationJob(
                _records(p), None if i in not_converted or topic in refused else _config_of(ctx, tp)
            )
            for i, (topic, p, tp) in enumerate(entries)
        ]
        errors = await validator.validate(jobs, ctx.broker.clock.now_ms())
        errors = [
            refused.get(topic) or not_converted.get(i, error)
            for i, ((topic, _, _), error) in enumerate(zip(entries, errors, strict=True))
        ]
        results = await _append_in_turn(ctx, req.acks, entries, turns, errors, [job.config for job in jobs])
    finally:
        for turn in turns:
            turn.done()
    throttle_ms = ctx.broker.quotas.record_produce(ctx, sum(len(_records(p)) for _, p, _ in entries))
    await ctx.broker.quotas.throttle(ctx, throttle_ms)
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
        failed = await ctx.broker.replicas.wait_for_replication(appended, req.timeout_ms)
        results = [
            (tp, _Outcome(ProducePartitionResult(tp.partition, failed[tp])) if tp in failed else r)
            for tp, r in results
        ]
    topics: dict[str, list[ProducePartitionResult]] = {}
    for tp, result in results:
        topics.setdefault(tp.topic, []).append(result.result)
    note_errors(result.result.error_code for _, result in results)  # ErrorsPerSec (request_metrics.py)
    return encode_produce_response(ctx.version, list(topics.items()), throttle_time_ms=throttle_ms)


def _refusals(ctx: RequestContext, req: ProduceRequest) -> dict[str, BrookError]:
    """Topics this producer may not write to (WRITE on the topic; a transactional producer also needs WRITE
    on its transactional id, else every partition is refused), as Kafka checks before appending."""
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


@dataclass(slots=True)
class _Outcome:
    result: ProducePartitionResult
    base_offset: int = -1
    record_count: int = 0


async def _append_in_turn(
    ctx: RequestContext,
    acks: int,
    entries: list[tuple[str, ProducePartition, TopicPartition]],
    turns: list[AppendTurn],
    errors: list[BrookError | None],
    validated_with: list[LogConfig | None],
) -> list[tuple[TopicPartition, _Outcome]]:
    """Append each partition when its turn comes; yield the loop after every few MiB written.

    A partition the validator checked (its config in `validated_with`) is not CRC-checked again by the
    append; one it skipped (not led here then, led by the time its turn came) is checked in full there."""
    results: list[tuple[TopicPartition, _Outcome]] = []
    unyielded_bytes = 0
    for (topic, p, tp), turn, error, config in zip(entries, turns, errors, validated_with, strict=True):
        await turn.wait()
        try:
            if error is not None:
                raise error  # an authorization error comes first, as in Kafka
            if topic in INTERNAL_TOPICS and ctx.client_id != ADMIN_CLIENT_ID:
                raise InvalidTopic(f"Cannot append to internal topic {topic}")
            data = _records(p)
            info = ctx.broker.replicas.append_records(tp, data, required_acks=acks, validated_with=config)
            unyielded_bytes += len(data)
            topic_stats = ctx.broker.stats.topic(topic)
            topic_stats.bytes_in += len(data)
            topic_stats.messages_in += info.last_offset + 1 - info.first_offset
            outcome = _Outcome(
                ProducePartitionResult(
                    p.index, 0, info.first_offset, info.log_append_time_ms, info.log_start_offset
                ),
                info.first_offset,
                info.last_offset + 1 - info.first_offset,
            )
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            entry = error_entry(exc)
            outcome = _Outcome(
                ProducePartitionResult(
                    p.index,
                    entry["error_code"],
                    error_message=entry["error_message"],
                    record_errors=getattr(exc, "record_errors", ()),
                )
            )
            if entry["error_code"] in _REJECTED:
                ctx.broker.stats.produce_rejected += 1
        finally:
            turn.done()
        results.append((tp, outcome))
        if unyielded_bytes >= _YIELD_EVERY_BYTES:
            unyielded_bytes = 0
            await asyncio.sleep(0)  # a 100 MB request: others' requests run between its partitions
    return results


def _records(p: ProducePartition) -> bytearray | memoryview:
    return p.records if p.records is not None else bytearray()


def _config_of(ctx: RequestContext, tp: TopicPartition) -> LogConfig | None:
    """The topic's settings to validate against; None skips validation (the append answers instead)."""
    if tp.topic in INTERNAL_TOPICS and ctx.client_id != ADMIN_CLIENT_ID:
        return None  # refused as INVALID_TOPIC_EXCEPTION before its bytes are even looked at
    partition = ctx.broker.replicas.partitions.get(tp)
    return partition.config if partition is not None and partition.is_leader else None


async def _up_convert(
    ctx: RequestContext, entries: list[tuple[str, ProducePartition, TopicPartition]]
) -> dict[int, BrookError]:
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


def _convert_all(
    entries: list[tuple[str, ProducePartition, TopicPartition]], max_message_bytes: list[int | None]
) -> dict[int, BrookError]:
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
