"""Metadata (key 3): brokers, controller, and topics with their partitions; auto-creates topics.

Clients repeat the same Metadata request (on connect, every refresh, while polling for a new
topic), so encoded answers are cached per (version, request). A cached answer is used only while the
cluster state it was built from is unchanged: the TopicStates of its topics (immutable, replaced on
every change), the live brokers, the controller and the cluster id. Answers holding an error are
never cached (an error can depend on settings outside that state, such as auto-creation).
"""

from typing import Any

from brook.broker.handlers.base import RequestContext, error_entry, handles
from brook.common.errors import ErrorCode
from brook.protocol import codec

_CACHE_MAX_ENTRIES = 256


@handles(3, versions=range(0, 12))
async def metadata(ctx: RequestContext, req: Any) -> Any:
    broker = ctx.broker
    store = broker.metadata
    if req.topics is None or (ctx.version == 0 and not req.topics):
        names = sorted(store.topics())
    else:
        names = [t.name if t.name is not None else broker.topics.name_for_id(t.topic_id) for t in req.topics]
    cache = broker.metadata_responses
    key = (ctx.version, req)
    cached = cache.get(key)
    if cached is not None and cached[0] == _fingerprint(ctx, names):
        return cached[1]
    allow_create = getattr(req, "allow_auto_topic_creation", True)
    topics = []
    failed = False
    for name in names:
        try:
            state = await broker.topics.get_or_auto_create(name, allow_create=allow_create)
        except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
            topics.append({"name": name, "error_code": error_entry(exc)["error_code"], "partitions": []})
            failed = True
            continue
        topics.append(
            {
                "error_code": ErrorCode.none,
                "name": state.name,
                "topic_id": state.topic_id,
                "is_internal": state.internal,
                "partitions": [
                    {
                        "error_code": ErrorCode.none,
                        "partition_index": p.partition,
                        "leader_id": p.leader,
                        "leader_epoch": p.leader_epoch,
                        "replica_nodes": list(p.replicas),
                        "isr_nodes": list(p.isr),
                        "offline_replicas": [],
                    }
                    for p in sorted(state.partitions.values(), key=lambda p: p.partition)
                ],
            }
        )
    encoded = codec.encode_body(
        ctx.respond(
            throttle_time=0,
            brokers=[
                {"node_id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack}
                for b in store.live_brokers()
            ],
            cluster_id=store.cluster_id,
            controller_id=store.controller_id,
            topics=topics,
        )
    )
    if not failed:
        if len(cache) >= _CACHE_MAX_ENTRIES:
            cache.clear()
        cache[key] = (_fingerprint(ctx, names), encoded)
    return encoded


def _fingerprint(ctx: RequestContext, names: list[str]) -> tuple[Any, ...]:
    """What the answer depends on; compared by value (TopicState and BrokerInfo are frozen)."""
    store = ctx.broker.metadata
    return (
        tuple(store.topic(name) for name in names),
        tuple(store.live_brokers()),
        store.controller_id,
        store.cluster_id,
    )
