"""Fetch (key 1): serve whole batches from segment files; long-poll until min_bytes or max_wait.

brook creates no incremental fetch sessions (KIP-227 lets a broker answer session_id 0), so every
fetch is a full fetch of the partitions it names. The response is encoded around the record bytes
(protocol/fetch_response.py), so records are never copied into a second buffer. On a plain TCP connection
(v4+) the records are not even read: the answer holds FileRanges the connection splices from the segment
files to the socket (broker/zero_copy.py), as Kafka's FileRecords.writeTo does with transferTo.

Bounded memory: one Fetch reads at most fetch.max.bytes (replica.fetch.response.max.bytes for a follower),
and a Fetch starts only once every earlier response on its connection has gone to the socket and the
socket has room (server.py's writer resolves the Fetch's turn when it reaches it), so a client that never reads holds one response in the broker, not one per
pipelined request. Where records are read (SSL, v0-3, what a full socket did not take), more than 1 MiB of
record bytes is read from the segment files on a worker thread.
Quotas: consumer_byte_rate (handlers answer empty and throttled past it, as Kafka).

v0-3 answer message sets (magic 0 for v0-1, magic 1 for v2-3), down-converted from the log's v2 batches
as Kafka's RecordsUtil.downConvert does (records/message_sets.py), always on a worker thread (a few KiB of
gzip can hold thousands of records); a zstd batch cannot be down-converted: a partition whose answer
would start with one answers UNSUPPORTED_COMPRESSION_TYPE.

An isolation_level other than 0 and 1 fails the whole Fetch with UNKNOWN_SERVER_ERROR once it names a
partition the broker would read, as Kafka's does (handlers/isolation.py).
"""

import asyncio
from collections.abc import Sized
from typing import Any

from brook.broker.handlers.base import Channel, RequestContext, handles
from brook.broker.handlers.isolation import is_known_isolation_level, log_unknown_isolation_level
from brook.broker.replica_manager import FetchPartition, FetchResult
from brook.broker.request_metrics import note_errors
from brook.broker.zero_copy import INLINE_READ_BYTES
from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.protocol import codec
from brook.protocol.fetch_response import FetchPartitionData, encode_fetch_response
from brook.records import message_sets
from brook.security.acl import AclOperation, ResourceType
from brook.storage.api import FileSlice


@handles(1, versions=range(0, 13))
async def fetch(ctx: RequestContext, req: Any) -> Any:
    isolation_level = getattr(req, "isolation_level", 0)  # v4+; 1 = read_committed (up to the LSO)
    wanted = [
        FetchPartition(
            TopicPartition(topic.topic, p.partition),
            p.fetch_offset,
            p.partition_max_bytes,
            getattr(p, "current_leader_epoch", -1),
            getattr(p, "last_fetched_epoch", -1),
            isolation_level,
        )
        for topic in req.topics
        for p in topic.partitions
    ]
    denied = _denied_topics(ctx, req)
    wanted = [w for w in wanted if w.tp.topic not in denied]
    if not is_known_isolation_level(isolation_level) and any(_is_known(ctx, w.tp) for w in wanted):
        log_unknown_isolation_level(ctx, "Fetch", isolation_level)
        return _error_response(ctx.version, req, ErrorCode.unknown_server_error)
    # Kafka caps what one Fetch may make the broker read: fetch.max.bytes for consumers,
    # replica.fetch.response.max.bytes for followers (KIP-74's first batch may still go past it).
    cap_key = "replica.fetch.response.max.bytes" if req.replica_id >= 0 else "fetch.max.bytes"
    quota_cap = 0x7FFFFFFF if req.replica_id >= 0 else ctx.broker.quotas.fetch_max_bytes(ctx)
    results = (
        await ctx.broker.replicas.fetch(
            wanted,
            min_bytes=req.min_bytes,
            max_bytes=min(getattr(req, "max_bytes", 0x7FFFFFFF), ctx.broker.config.int(cap_key), quota_cap),
            max_wait_ms=codec.to_ms(req.max_wait),
            from_follower=req.replica_id >= 0,
            replica_id=req.replica_id,
        )
        if wanted or not denied
        else []  # nothing it may read: answered at once, as Kafka does
    )
    throttle_ms = 0
    if req.replica_id < 0:
        throttle_ms = ctx.broker.quotas.record_fetch(ctx, sum(r.size for r in results))
        if throttle_ms:
            for r in results:  # over the quota: an empty answer, as Kafka sends
                r.records, r.size = [], 0
        await ctx.broker.quotas.throttle(ctx, throttle_ms)
    if ctx.version >= 4 and ctx.channel is not None:
        _take_ranges(results, ctx.channel)  # sent from the files by the connection (zero_copy.py)
    if _unread_bytes(results) > INLINE_READ_BYTES:
        # pread releases the GIL: a 50 MB response is not read on the event loop
        await asyncio.to_thread(_read_slices, results)
    else:
        _read_slices(results)
    if ctx.version < 4 and any(r.size for r in results):
        # decoding and re-encoding every record: ~10 us a record, and 1 KiB of gzip may hold thousands
        await asyncio.to_thread(_down_convert, results, wanted, ctx.version)
    _count_bytes_out(ctx, results, follower=req.replica_id >= 0)
    topics: dict[str, list[FetchPartitionData]] = {}
    for topic in req.topics:
        if topic.topic in denied:
            topics[topic.topic] = [
                FetchPartitionData(p.partition, ErrorCode.topic_authorization_failed, -1, -1, -1, [], 0)
                for p in topic.partitions
            ]
    for r in results:
        topics.setdefault(r.tp.topic, []).append(
            FetchPartitionData(
                r.tp.partition,
                r.error_code,
                r.high_watermark,
                r.last_stable_offset if r.last_stable_offset >= 0 else r.high_watermark,
                r.log_start_offset,
                [c for c in r.records if not isinstance(c, FileSlice)],  # every slice was read or taken
                r.size,
                r.diverging_epoch,
                _aborted(r),
            )
        )
    note_errors(p.error_code for partitions in topics.values() for p in partitions)  # ErrorsPerSec
    return encode_fetch_response(ctx.version, list(topics.items()), throttle_time_ms=throttle_ms)


def _denied_topics(ctx: RequestContext, req: Any) -> set[str]:
    """Topics this fetch may not read: a consumer needs READ on each topic; a follower's fetch (replica_id
    set) needs CLUSTER_ACTION, or every partition is refused (a client cannot pretend to be a follower)."""
    names = {topic.topic for topic in req.topics}
    if req.replica_id >= 0:
        return set() if ctx.authorize(AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER) else names
    return {name for name in names if not ctx.authorize(AclOperation.READ, ResourceType.TOPIC, name)}


def _is_known(ctx: RequestContext, tp: TopicPartition) -> bool:
    state = ctx.broker.metadata.topic(tp.topic)
    return state is not None and tp.partition in state.partitions


def _error_response(version: int, req: Any, error_code: ErrorCode) -> list[Sized]:
    """One error for the whole Fetch, as Kafka's FetchRequest.getErrorResponse: the top-level error_code
    (v7+) and the same code in every requested partition, with no records and offsets of -1."""
    topics = [
        (
            topic.topic,
            [FetchPartitionData(p.partition, error_code, -1, -1, -1, [], 0) for p in topic.partitions],
        )
        for topic in req.topics
    ]
    note_errors(p.error_code for _, partitions in topics for p in partitions)  # ErrorsPerSec
    return encode_fetch_response(version, topics, error_code=error_code)


def _count_bytes_out(ctx: RequestContext, results: list[FetchResult], *, follower: bool) -> None:
    """Kafka's BytesOutPerSec per topic (consumers) and ReplicationBytesOutPerSec (followers)."""
    stats = ctx.broker.stats
    for r in results:
        if r.size:
            if follower:
                stats.replication_bytes_out += r.size
            else:
                stats.topic(r.tp.topic).bytes_out += r.size


def _read_slices(results: list[FetchResult]) -> None:
    """Segment file slices not taken as ranges to bytes; the sizes are what was actually read."""
    for r in results:
        if any(isinstance(c, FileSlice) for c in r.records):
            read = [c.read_bytes() if isinstance(c, FileSlice) else c for c in r.records]
            r.records = list(read)
            r.size = sum(len(c) for c in read)


def _unread_bytes(results: list[FetchResult]) -> int:
    return sum(c.size for r in results for c in r.records if isinstance(c, FileSlice))


def _take_ranges(results: list[FetchResult], channel: Channel) -> None:
    """Segment file slices to FileRanges the connection sends from the files, as far as it can take them
    (its range budget; a slice it cannot take stays a slice and is read into bytes)."""
    for r in results:
        for i, c in enumerate(r.records):
            if isinstance(c, FileSlice) and (taken := channel.file_range(c)) is not None:
                r.records[i] = taken


def _down_convert(results: list[FetchResult], wanted: list[FetchPartition], version: int) -> None:
    """Fetch v0-3: each partition's batches as a message set of magic 0 (v0-1) or 1 (v2-3)."""
    magic = 0 if version <= 1 else 1
    fetch_offsets = {w.tp: w.fetch_offset for w in wanted}
    for r in results:
        if not r.size:
            continue
        try:
            converted = message_sets.down_convert(
                b"".join(c for c in r.records if isinstance(c, bytes)), magic, fetch_offsets[r.tp]
            )
        except BrookError as exc:
            r.records, r.size, r.error_code = [], 0, exc.error_code
            continue
        r.records, r.size = [converted], len(converted)


def _aborted(r: FetchResult) -> list[tuple[int, int]] | None:
    if r.aborted_transactions is None:
        return None
    return [(t.producer_id, t.first_offset) for t in r.aborted_transactions]
