"""Produce (key 0): append producers' batches, as opaque bytes, to partition leaders.

v0-2 are advertised only because librdkafka before 2.11.1 turns compression off when Produce's
minimum version is above 0 (librdkafka #4956, KAFKA-18659); they are answered UNSUPPORTED_VERSION.
"""

import struct
from typing import Any

from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.protocol import codec


@handles(0, versions=range(0, 10))
async def produce(ctx: RequestContext, req: Any) -> Any:
    if ctx.request.unsupported_version:
        return _unsupported_old_version(ctx)
    replicas = ctx.broker.replicas
    results: list[dict[str, Any]] = []
    appended: list[tuple[TopicPartition, int]] = []
    for topic in req.topic_data:
        partitions = []
        for p in topic.partition_data:
            tp = TopicPartition(topic.name, p.index)
            entry: dict[str, Any] = {"index": p.index}
            try:
                info = replicas.append_records(tp, bytearray(p.records or b""))
                entry.update(
                    base_offset=info.first_offset,
                    log_append_time=info.log_append_time_ms,
                    log_start_offset=info.log_start_offset,
                )
                appended.append((tp, info.last_offset + 1))
            except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
                entry.update(error_entry(exc), base_offset=-1, log_append_time=-1, log_start_offset=-1)
                if entry["error_code"] in (ErrorCode.corrupt_message, ErrorCode.invalid_record):
                    ctx.broker.stats.produce_rejected += 1
            partitions.append(entry)
        results.append({"name": topic.name, "partition_responses": partitions})
    if req.acks == 0:
        return None  # acks=0: the producer expects no response at all
    if req.acks == -1 and appended:
        await replicas.wait_for_replication(appended, codec.to_ms(req.timeout))
    return ctx.respond(responses=results, throttle_time=0)


def _unsupported_old_version(ctx: RequestContext) -> bytes | None:
    """Answer Produce v0-2 with UNSUPPORTED_VERSION for every partition (their layout, by hand).

    v0-2 bodies are the v3 body without its leading transactional_id, so v3's decoder reads them.
    """
    req = codec.decode_request_body(0, 3, b"\xff\xff" + ctx.request.raw_body, 0)
    if req.acks == 0:
        return None
    out = [struct.pack(">i", len(req.topic_data))]
    for topic in req.topic_data:
        name = topic.name.encode()
        out.append(struct.pack(">h", len(name)) + name + struct.pack(">i", len(topic.partition_data)))
        for p in topic.partition_data:
            out.append(struct.pack(">ihq", p.index, ErrorCode.unsupported_version, -1))
            if ctx.version >= 2:
                out.append(struct.pack(">q", -1))
    if ctx.version >= 1:
        out.append(struct.pack(">i", 0))
    return b"".join(out)
