"""Request rate and latency per API, split the way Kafka's RequestChannel splits a request's time.

A request's life on a connection (server.py), with the time.monotonic_ns() stamps it carries (Request):

    received_ns   parsed off the connection (its bytes are all in)
    started_ns    its handler starts                    RequestQueueTimeMs  = started - received
    (parked)      acks=all, long-poll fetch, rebalance  RemoteTimeMs        = remote_ns (`add_remote_ns`)
    done_ns       the handler returned the response     LocalTimeMs         = done - started - remote
    dequeued      the connection's writer takes it      ResponseQueueTimeMs = dequeued - done
    sent          encoded and handed to the socket      ResponseSendTimeMs  = sent - dequeued
                                                        TotalTimeMs         = sent - received

A Fetch waits for the response before it on its connection (server.py `_fetch_in_turn`) before its
handler starts: that shows as queue time, as a muted channel's does in Kafka. "Sent" is when the bytes
are given to the transport (written or buffered there); a client that reads slowly holds its
connection's next requests instead (their queue time). Fetch is also counted as FetchConsumer or
FetchFollower, as Kafka does. Recording is a bisect and two additions per phase (about 2.5 us a request,
measured), with no object kept per request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterable
from contextvars import ContextVar
from typing import TypeVar

from brook.common.histogram import Histogram
from brook.protocol import codec
from brook.protocol.connection import Request

__all__ = ["PHASES", "RequestMetrics", "add_remote_ns", "api_name", "parked"]

# Kafka's RequestMetrics names, as the JMX exporter lowercases them (kafka_network_requestmetrics_<phase>)
PHASES = (
    "requestqueuetimems",
    "localtimems",
    "remotetimems",
    "responsequeuetimems",
    "responsesendtimems",
    "totaltimems",
)
_FETCH_KEY = 1
_MS = 1e-6  # ns -> ms
_ALWAYS_SHOWN = ("Produce", "Fetch", "FetchConsumer", "FetchFollower")

T = TypeVar("T")
_current: ContextVar[Request | None] = ContextVar("brook_current_request", default=None)


def add_remote_ns(ns: int) -> None:
    """Time the running request's handler spent parked (purgatory): its RemoteTimeMs."""
    request = _current.get()
    if request is not None:
        request.remote_ns += ns


async def parked(waiting: Awaitable[T]) -> T:
    """Await what Kafka holds in a purgatory (a rebalance, a commit's replication): the running request's
    RemoteTimeMs. Pass the future the local work returned, so only the wait is counted."""
    started_ns = time.monotonic_ns()
    try:
        return await waiting
    finally:
        add_remote_ns(time.monotonic_ns() - started_ns)


def api_name(api_key: int, version: int) -> str:
    """Kafka's ApiKeys name ("Produce", "OffsetCommit", ...), from the kio request class."""
    name: str = codec.request_class(api_key, version).__name__
    return name.removesuffix("Request")


class _ApiMetrics:
    __slots__ = ("histograms", "requests")

    def __init__(self) -> None:
        self.histograms = tuple(Histogram() for _ in PHASES)
        self.requests: dict[int, int] = {}  # api version -> requests answered


class RequestMetrics:
    """Owned by the event loop (Server): `begin` and `finish` bracket a handler, `record` the response."""

    def __init__(self, apis: Iterable[tuple[int, range]]) -> None:
        self._names = {key: api_name(key, versions[-1]) for key, versions in apis}
        # the APIs dashboards chart by name have their (empty) series from the start: 0, not "no data"
        self.by_name: dict[str, _ApiMetrics] = {name: _ApiMetrics() for name in _ALWAYS_SHOWN}

    def begin(self, request: Request) -> None:
        """In the request's own task, just before its handler runs."""
        request.started_ns = time.monotonic_ns()
        _current.set(request)

    def record(self, request: Request, dequeued_ns: int, sent_ns: int) -> None:
        """The response left (or, for acks=0, was dropped): observe every phase of the request."""
        if not request.received_ns or not request.done_ns:
            return
        name = self._names.get(request.api_key)
        if name is None:
            return
        local_ns = request.done_ns - request.started_ns - request.remote_ns
        values = (
            (request.started_ns - request.received_ns) * _MS,
            max(local_ns, 0) * _MS,
            request.remote_ns * _MS,
            (dequeued_ns - request.done_ns) * _MS,
            (sent_ns - dequeued_ns) * _MS,
            (sent_ns - request.received_ns) * _MS,
        )
        self._observe(name, request.api_version, values)
        if request.api_key == _FETCH_KEY:
            follower = getattr(request.body, "replica_id", -1) >= 0
            self._observe("FetchFollower" if follower else "FetchConsumer", request.api_version, values)

    def _observe(self, name: str, version: int, values: tuple[float, ...]) -> None:
        api = self.by_name.get(name)
        if api is None:
            api = self.by_name[name] = _ApiMetrics()
        api.requests[version] = api.requests.get(version, 0) + 1
        for histogram, value in zip(api.histograms, values, strict=True):
            histogram.observe(value)
