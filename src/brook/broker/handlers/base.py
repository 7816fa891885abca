"""The handler registry and the context a handler gets: one module per API registers itself here.

ApiVersions is computed from this registry, so the versions brook advertises are the versions it handles.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition
from brook.protocol import codec, legacy
from brook.protocol.connection import Request
from brook.security.acl import CLUSTER_NAME, AclOperation, ResourceType
from brook.security.acl_decisions import NO_AUTHORIZED_OPERATIONS, OPERATIONS_BY_RESOURCE, Caller

if TYPE_CHECKING:
    from brook.broker.app import Broker
    from brook.broker.zero_copy import FileRange
    from brook.storage.api import FileSlice

logger = logging.getLogger(__name__)

__all__ = [
    "ANONYMOUS",
    "NOT_NOW",
    "OFF_LOOP_REQUEST_BYTES",
    "REGISTRY",
    "Handler",
    "RequestContext",
    "Session",
    "error_entry",
    "handles",
    "partition_error_codes",
    "per_partition_sliced",
    "requested_operations",
    "split_known_partitions",
]

HandlerFunc = Callable[["RequestContext", Any], Awaitable[Any]]
# A handler's synchronous path: the response, an awaitable of it, or NOT_NOW (Server.handle)
NowFunc = Callable[["RequestContext", Any], Any]
T = TypeVar("T")
NOT_NOW = SimpleNamespace(name="NOT_NOW")  # a `now` path declining a request before doing anything


@dataclass(frozen=True)
class Handler:
    api_key: int
    versions: range
    func: HandlerFunc
    # Tried first, without a task (Server.handle): answers the common case at once, or NOT_NOW for `func`
    now: NowFunc | None = None


REGISTRY: dict[int, Handler] = {}
OFF_LOOP_REQUEST_BYTES = 64 * 1024  # a request this big has its response built and encoded off the event loop


def handles(
    api_key: int, versions: range, now: NowFunc | None = None
) -> Callable[[HandlerFunc], HandlerFunc]:
    def register(func: HandlerFunc) -> HandlerFunc:
        assert api_key not in REGISTRY, f"two handlers for api_key {api_key}"
        REGISTRY[api_key] = Handler(api_key, versions, func, now)
        return func

    return register


_ALL_OPERATIONS = {rtype: sum(1 << op for op in ops) for rtype, ops in OPERATIONS_BY_RESOURCE.items()}


def requested_operations(ctx: RequestContext, wanted: bool, resource_type: ResourceType, name: str) -> int:
    """`authorized_operations` when the client asked for them (include_*_authorized_operations), else INT32_MIN."""
    return ctx.authorized_operations(resource_type, name) if wanted else NO_AUTHORIZED_OPERATIONS


def error_entry(exc: BaseException) -> dict[str, Any]:
    """The error_code/error_message pair a Kafka response carries for this exception."""
    if isinstance(exc, BrookError):
        return {"error_code": exc.error_code, "error_message": str(exc) or None}
    logger.error("unexpected error while handling a request", exc_info=exc)
    return {"error_code": ErrorCode.unknown_server_error, "error_message": "Unexpected server error"}


class Channel(Protocol):
    """What a handler may ask of the connection its request came on (broker/server.py's _Connection)."""

    def file_range(self, source: FileSlice) -> FileRange | None:
        """`source` as a range the connection sends from the file (broker/zero_copy.py); None where it cannot
        (SSL, the connection lost, the range budget spent): the handler reads the bytes then."""

    def mute_for(self, delay_ms: int) -> None:
        """Read nothing more from this client for `delay_ms` (a quota's throttle time, KIP-219)."""

    async def wait_unmuted(self) -> None:
        """Until a mute_for has run out."""


ANONYMOUS = "User:ANONYMOUS"


@dataclass(frozen=True, slots=True)
class Session:
    """Who is on a connection: Kafka's principal string ("User:ANONYMOUS" on PLAINTEXT and on SSL without a
    client certificate, "User:<name>" after SASL, the mapped certificate DN with mTLS), and the listener the
    client connected to with its security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)."""

    principal: str = ANONYMOUS
    listener_name: str = "PLAINTEXT"
    security_protocol: str = "PLAINTEXT"


class RequestContext:
    """What a handler may use: the request's header fields, who sent it and the broker's collaborators.

    `ctx.principal` ("User:<name>"), `ctx.listener_name` and `ctx.security_protocol` come from the
    connection's Session (authorizers decide on them)."""

    def __init__(
        self, broker: Broker, request: Request, client_host: str = "", session: Session | None = None
    ) -> None:
        self.broker = broker
        self.request = request
        self.version = request.api_version
        self.client_host = client_host  # "/<peer address>", as Kafka reports it (DescribeGroups)
        self.channel: Channel | None = None  # the client's connection, when a server dispatched this
        self.session = session or Session()

    @property
    def principal(self) -> str:
        return self.session.principal

    @property
    def listener_name(self) -> str:
        return self.session.listener_name

    @property
    def security_protocol(self) -> str:
        return self.session.security_protocol

    @property
    def client_id(self) -> str:
        return self.request.client_id or ""

    # --- authorization (broker/authorization.py) ------------------------------------------------

    @property
    def caller(self) -> Caller:
        return Caller(self.principal, self.client_host.lstrip("/"))

    def authorize(
        self, operation: AclOperation, resource_type: ResourceType, name: str = CLUSTER_NAME
    ) -> bool:
        """May this request's principal do `operation` on the resource? Always yes without an authorizer."""
        authorizer = self.broker.authorizer
        return authorizer is None or authorizer.authorize(self.caller, operation, resource_type, name)

    def authorized_operations(self, resource_type: ResourceType, name: str = CLUSTER_NAME) -> int:
        """Kafka's `authorized_operations` bits for a resource (every supported one without an authorizer)."""
        authorizer = self.broker.authorizer
        if authorizer is None:
            return _ALL_OPERATIONS.get(resource_type, 0)
        return authorizer.authorized_operations(self.caller, resource_type, name)

    def respond(self, **fields: Any) -> Any:
        """The response entity for this request's version, from version-independent fields (the encoded
        body for an old version kio lacks: protocol/legacy.py)."""
        if legacy.has_response(self.request.api_key, self.version):
            return legacy.encode_response(self.request.api_key, self.version, fields)
        return codec.build(codec.response_class(self.request.api_key, self.version), fields)

    async def respond_async(self, **fields: Any) -> Any:
        """`respond` for a response that grows with its request: built on a worker thread when the request
        was big (a request naming 100,000 partitions gets 100,000 entries back, seconds of building that
        would stall every other client on the event loop)."""
        if self.request.size < OFF_LOOP_REQUEST_BYTES:
            return self.respond(**fields)
        return await asyncio.to_thread(functools.partial(self.respond, **fields))

    def per_partition(
        self,
        topics: Iterable[Any],
        func: Callable[[TopicPartition, Any], dict[str, Any]],
        *,
        topic_field: str = "name",
        partitions_field: str = "partitions",
        index_field: str = "partition_index",
        out_partitions_field: str | None = None,
        out_index_field: str | None = None,
    ) -> list[dict[str, Any]]:
        """Run `func` once per requested partition; a BrookError becomes that partition's error_code."""
        result = []
        for topic in topics:
            name = getattr(topic, topic_field)
            entries = []
            for p in getattr(topic, partitions_field):
                index = p if isinstance(p, int) else getattr(p, index_field)
                try:
                    entry = func(TopicPartition(name, index), p)
                except BrookError as exc:  # its code only: no message to format per partition
                    entry = {"error_code": exc.error_code}
                except Exception as exc:  # noqa: BLE001 - becomes this entry's error code (logged if unexpected)
                    entry = {"error_code": error_entry(exc)["error_code"]}
                entry[out_index_field or index_field] = index
                entries.append(entry)
            result.append({topic_field: name, out_partitions_field or partitions_field: entries})
        return result


PARTITIONS_PER_SLICE = 2000  # per_partition_sliced lets the event loop run after this many partitions


async def per_partition_sliced(
    ctx: RequestContext,
    topics: Iterable[Any],
    func: Callable[[TopicPartition, Any], dict[str, Any]],
    *,
    topic_field: str = "name",
    partitions_field: str = "partitions",
    out_partitions_field: str | None = None,
) -> list[dict[str, Any]]:
    """`ctx.per_partition` for a request that may name very many partitions (brook.request.max.elements
    allows 200,000, seconds of work): other clients are served between slices of PARTITIONS_PER_SLICE."""
    out_field = out_partitions_field or partitions_field
    result = []
    for topic in topics:
        partitions = list(getattr(topic, partitions_field))
        entries: list[dict[str, Any]] = []
        for start in range(0, len(partitions), PARTITIONS_PER_SLICE):
            piece = SimpleNamespace(**{topic_field: getattr(topic, topic_field)})
            setattr(piece, partitions_field, partitions[start : start + PARTITIONS_PER_SLICE])
            (done,) = ctx.per_partition(
                [piece],
                func,
                topic_field=topic_field,
                partitions_field=partitions_field,
                out_partitions_field=out_field,
            )
            entries += done[out_field]
            await asyncio.sleep(0)
        result.append({topic_field: getattr(topic, topic_field), out_field: entries})
    return result


def split_known_partitions(
    ctx: RequestContext, topics: Iterable[Any]
) -> tuple[list[tuple[TopicPartition, Any]], dict[TopicPartition, ErrorCode]]:
    """The requested partitions that exist, with their request entries, and UNKNOWN_TOPIC_OR_PARTITION
    codes for the rest (OffsetCommit and OffsetDelete answer them without asking the coordinator)."""
    known: list[tuple[TopicPartition, Any]] = []
    unknown: dict[TopicPartition, ErrorCode] = {}
    for topic in topics:
        state = ctx.broker.metadata.topic(topic.name)
        for p in topic.partitions:
            tp = TopicPartition(topic.name, p.partition_index)
            if state is None or p.partition_index not in state.partitions:
                unknown[tp] = ErrorCode.unknown_topic_or_partition
            else:
                known.append((tp, p))
    return known, unknown


def partition_error_codes(
    topics: Iterable[Any], codes: dict[TopicPartition, ErrorCode]
) -> list[dict[str, Any]]:
    """`[{name, partitions: [{partition_index, error_code}]}]` for the requested topics, in request order
    (the response shape of OffsetCommit and OffsetDelete)."""
    return [
        {
            "name": topic.name,
            "partitions": [
                {
                    "partition_index": p.partition_index,
                    "error_code": codes[TopicPartition(topic.name, p.partition_index)],
                }
                for p in topic.partitions
            ],
        }
        for topic in topics
    ]
