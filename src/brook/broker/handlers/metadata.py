"""Metadata (key 3): brokers, controller, and topics with their partitions; auto-creates topics.

Clients repeat the same Metadata request (on connect, every refresh, while polling for a new
topic), so encoded answers are cached per (version, request). A cached answer is used only while the
cluster state it was built from is unchanged: the TopicStates of its topics (immutable, replaced on
every change), the live brokers, the controller and the cluster id. Answers holding an error are
never cached (an error can depend on settings outside that state, such as auto-creation).

v12 (Kafka 3.1, KIP-516) looks topics up by id: a request topic with a non-zero topic_id names the topic with
that id (its name is ignored); an id no topic has gets UNKNOWN_TOPIC_ID with a null name. Before v12 names are
required (INVALID_REQUEST without one).
"""

from collections.abc import Sequence
from typing import Any

from brook.broker.handlers.base import RequestContext, error_entry, handles, requested_operations
from brook.common.errors import ErrorCode, UnknownTopicOrPartition
from brook.protocol import codec
from brook.security.acl import AclOperation, ResourceType
from brook.security.acl_decisions import NO_AUTHORIZED_OPERATIONS

_CACHE_MAX_ENTRIES = 256


_BY_ID_VERSION = 12


@handles(3, versions=range(0, 13))
async def metadata(ctx: RequestContext, req: Any) -> Any:
    broker = ctx.broker
    store = broker.metadata
    names: list[str | None]
    all_topics = req.topics is None or (ctx.version == 0 and not req.topics)
    if all_topics:  # with an authorizer, only the topics this principal may describe
        names = [
            n for n in sorted(store.topics()) if ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, n)
        ]
    else:
        names = [_requested_name(ctx, t) for t in req.topics]
    cache = broker.metadata_responses
    key: tuple[Any, ...] = (ctx.version, ctx.listener_name, req)
    if (
        broker.authorizer is not None
    ):  # answers differ by principal and address; fingerprinted by ACL generation
        key = (*key, ctx.caller)
    cached = cache.get(key)
    if cached is not None and cached[0] == _fingerprint(ctx, names):
        return cached[1]
    live = store.live_brokers()
    reachable = {b.node_id for b in live if b.address_for(ctx.listener_name) is not None}
    alive = {b.node_id for b in live}
    allow_create = getattr(req, "allow_auto_topic_creation", True)
    with_operations = getattr(req, "include_topic_authorized_operations", False)
    topics = []
    failed = False
    for name, requested in zip(names, [None] * len(names) if all_topics else req.topics, strict=True):
        if name is None:
            topics.append(_no_name_entry(ctx, requested))
            failed = True
            continue
        if not _may_describe_or_create(ctx, name, allow_create):
            denied: dict[str, Any] = {"name": name, "error_code": ErrorCode.topic_authorization_failed}
            if requested is not None and requested.name != name:  # looked up by id: the name stays hidden
                denied.update(name=None, topic_id=requested.topic_id)
            topics.append({**denied, "partitions": []})
            failed = True
            continue
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
                "topic_authorized_operations": requested_operations(
                    ctx, with_operations, ResourceType.TOPIC, state.name
                ),
                "partitions": [
                    {
                        "error_code": _leader_error(p.leader, reachable, alive, ctx.version),
                        "partition_index": p.partition,
                        "leader_id": p.leader if p.leader in reachable else -1,
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
                {"node_id": b.node_id, "host": address[0], "port": address[1], "rack": b.rack}
                for b in live
                if (address := b.address_for(ctx.listener_name)) is not None  # the client's listener
            ],
            cluster_id=store.cluster_id,
            controller_id=store.controller_id,
            topics=topics,
            cluster_authorized_operations=_cluster_operations(ctx, req),
        )
    )
    if not failed:
        if len(cache) >= _CACHE_MAX_ENTRIES:
            cache.clear()
        cache[key] = (_fingerprint(ctx, names), encoded)
    return encoded


def _leader_error(leader: int, reachable: set[int], alive: set[int], version: int) -> ErrorCode:
    """Kafka's MetadataCache rule: a partition whose leader is not a live broker this listener reaches is
    answered with leader -1 and LEADER_NOT_AVAILABLE (no leader, or a leader that died and is not replaced yet:
    a client never waits on a broker missing from the same answer); a live leader without the client's listener
    gets LISTENER_NOT_FOUND from v6."""
    if leader in reachable:
        return ErrorCode.none
    if leader in alive and version >= 6:
        return ErrorCode.listener_not_found
    return ErrorCode.leader_not_available


def _may_describe_or_create(ctx: RequestContext, name: str, allow_create: bool) -> bool:
    """DESCRIBE on the topic; for a topic this request would auto-create, also CREATE on the cluster or
    the topic (Kafka answers TOPIC_AUTHORIZATION_FAILED for either)."""
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.TOPIC, name):
        return False
    broker = ctx.broker
    if broker.authorizer is None or broker.metadata.topic(name) is not None:
        return True
    if not (allow_create and broker.config.bool("auto.create.topics.enable")):
        return True  # answered UNKNOWN_TOPIC_OR_PARTITION
    return ctx.authorize(AclOperation.CREATE, ResourceType.CLUSTER) or ctx.authorize(
        AclOperation.CREATE, ResourceType.TOPIC, name
    )


def _cluster_operations(ctx: RequestContext, req: Any) -> int:
    """v8-10 include_cluster_authorized_operations: 0 without DESCRIBE on the cluster, as Kafka answers."""
    if not getattr(req, "include_cluster_authorized_operations", False):
        return NO_AUTHORIZED_OPERATIONS
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return 0
    return ctx.authorized_operations(ResourceType.CLUSTER)


def _requested_name(ctx: RequestContext, topic: Any) -> str | None:
    """The name a request topic asks for; None when it names none (an unknown id, or no name before v12).

    From v12 a topic id wins over the name, as in Kafka: the Java client sends name "" with the id."""
    by_id = ctx.version >= _BY_ID_VERSION and topic.topic_id is not None and topic.topic_id.int != 0
    if not by_id:
        return None if topic.name is None else str(topic.name)
    try:
        return ctx.broker.topics.name_for_id(topic.topic_id)
    except UnknownTopicOrPartition:
        return None


def _no_name_entry(ctx: RequestContext, topic: Any) -> dict[str, Any]:
    """Kafka's answer for a topic without a name: an unknown id (v12+), or an invalid request before v12."""
    if ctx.version >= _BY_ID_VERSION:
        return {
            "error_code": ErrorCode.unknown_topic_id,
            "name": None,
            "topic_id": topic.topic_id,
            "partitions": [],
        }
    return {"error_code": ErrorCode.invalid_request, "name": "", "partitions": []}


def _fingerprint(ctx: RequestContext, names: Sequence[str | None]) -> tuple[Any, ...]:
    """What the answer depends on; compared by value (TopicState and BrokerInfo are frozen)."""
    store = ctx.broker.metadata
    authorizer = ctx.broker.authorizer
    return (
        None if authorizer is None else authorizer.generation,
        tuple(None if name is None else store.topic(name) for name in names),
        tuple(store.live_brokers()),
        store.controller_id,
        store.cluster_id,
    )
