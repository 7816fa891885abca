"""Produce (key 0): append producers' batches, as opaque bytes, to partition leaders.

The request arrives decoded by protocol/produce.py: each partition's records are a writable view
into the request frame, appended to the log as they are. The response is encoded there too.

v0-2 are advertised only because librdkafka before 2.11.1 turns compression off when Produce's
minimum version is above 0 (librdkafka #4956, KAFKA-18659); they are answered UNSUPPORTED_VERSION.
"""

import struct

from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.protocol import codec
from brook.protocol.produce import ProducePartitionResult, ProduceRequest, encode_produce_response


@handles(0, versions=range(0, 10))
async def produce(ctx: RequestContext, req: ProduceRequest) -> bytes | None:
    if ctx.request.unsupported_version:
        return _unsupported_old_version(ctx)
    replicas = ctx.broker.replicas
    results: list[tuple[str, list[ProducePartitionResult]]] = []
    appended: list[tuple[TopicPartition, int]] = []
    entries: dict[TopicPartition, tuple[list[ProducePartitionResult], int]] = {}
    for topic in req.topic_data:
        partitions: list[ProducePartitionResult] = []
        for p in topic.partition_data:
            tp = TopicPartition(topic.name, p.index)
            try:
                info = replicas.append_records(
                    tp, p.records if p.records is not None else bytearray(), required_acks=req.acks
                )
                result = ProducePartitionResult(
                    p.index, 0, info.first_offset, info.log_append_time_ms, info.log_start_offset
                )
                appended.append((tp, info.last_offset + 1))
                entries[tp] = (partitions, len(partitions))
            except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
                error = error_entry(exc)
                result = ProducePartitionResult(
                    p.index, error["error_code"], error_message=error["error_message"]
                )
                if error["error_code"] in (ErrorCode.corrupt_message, ErrorCode.invalid_record):
                    ctx.broker.stats.produce_rejected += 1
            partitions.append(result)
        results.append((topic.name, partitions))
    if req.acks == 0:
        return None  # acks=0: the producer expects no response at all
    if req.acks == -1 and appended:
        failed = await replicas.wait_for_replication(appended, req.timeout_ms)
        for tp, code in failed.items():  # acks=all: not acknowledged until the ISR has it
            entries_of_topic, index = entries[tp]
            entries_of_topic[index] = ProducePartitionResult(tp.partition, code)
    return encode_produce_response(ctx.version, results)


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
