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
connection's next requests instead (their queue time). A Fetch is recorded as FetchConsumer or
FetchFollower; the "Fetch" series, which Kafka also keeps, are their sum, made at scrape time. Recording is
a bisect and two integer additions per phase, with no object kept per request.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Iterable
from contextvars import ContextVar
from typing import TypeVar

from brook.common.histogram import LATENCY_BUCKETS_MS
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
_BOUNDS_NS = tuple(int(bound * 1_000_000) for bound in LATENCY_BUCKETS_MS)
_LE_MS = (*(repr(bound) for bound in LATENCY_BUCKETS_MS), "+Inf")
_FETCH = "Fetch"
_ALWAYS_SHOWN = ("Produce", "FetchConsumer", "FetchFollower")

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
    """One API's request counts by version and its six phase histograms, kept in integer nanoseconds (the
    stamps' unit: no float work per request) and turned into milliseconds when scraped."""

    __slots__ = ("counts", "requests", "sums")

    def __init__(self) -> None:
        self.requests: dict[int, int] = {}  # api version -> requests answered
        self.counts = [[0] * (len(_BOUNDS_NS) + 1) for _ in PHASES]  # per phase: per bucket, `+Inf` last
        self.sums = [0] * len(PHASES)

    def observe(
        self, version: int, queue: int, local: int, remote: int, response_queue: int, send: int
    ) -> None:
        self.requests[version] = self.requests.get(version, 0) + 1
        total = queue + local + remote + response_queue + send
        counts, sums = self.counts, self.sums
        counts[0][bisect_left(_BOUNDS_NS, queue)] += 1
        counts[1][bisect_left(_BOUNDS_NS, local)] += 1
        counts[2][bisect_left(_BOUNDS_NS, remote)] += 1
        counts[3][bisect_left(_BOUNDS_NS, response_queue)] += 1
        counts[4][bisect_left(_BOUNDS_NS, send)] += 1
        counts[5][bisect_left(_BOUNDS_NS, total)] += 1
        sums[0] += queue
        sums[1] += local
        sums[2] += remote
        sums[3] += response_queue
        sums[4] += send
        sums[5] += total

    @classmethod
    def merged(cls, *parts: _ApiMetrics) -> _ApiMetrics:
        whole = cls()
        for part in parts:
            for version, n in part.requests.items():
                whole.requests[version] = whole.requests.get(version, 0) + n
            for phase in range(len(PHASES)):
                whole.counts[phase] = [
                    a + b for a, b in zip(whole.counts[phase], part.counts[phase], strict=True)
                ]
                whole.sums[phase] += part.sums[phase]
        return whole

    def snapshot(self, phase: int) -> tuple[list[tuple[str, int]], float]:
        """A phase's cumulative buckets (le in ms, `+Inf` last) and its sum in ms, as Histogram.snapshot."""
        cumulative, buckets = 0, []
        for le, n in zip(_LE_MS, self.counts[phase], strict=True):
            cumulative += n
            buckets.append((le, cumulative))
        return buckets, self.sums[phase] / 1e6


class RequestMetrics:
    """Owned by the event loop (Server): `begin` stamps a handler's start, `record` the response's departure."""

    def __init__(self, apis: Iterable[tuple[int, range]]) -> None:
        self._names = {key: api_name(key, versions[-1]) for key, versions in apis}
        # the APIs dashboards chart by name have their (empty) series from the start: 0, not "no data"
        self._by_name: dict[str, _ApiMetrics] = {name: _ApiMetrics() for name in _ALWAYS_SHOWN}
        self._by_key: dict[int, _ApiMetrics] = {}
        self._consumer_fetch = self._by_name["FetchConsumer"]
        self._follower_fetch = self._by_name["FetchFollower"]

    def begin(self, request: Request) -> None:
        """In the request's own task, just before its handler runs."""
        request.started_ns = time.monotonic_ns()
        _current.set(request)

    def record(self, request: Request, dequeued_ns: int, sent_ns: int) -> None:
        """The response left (or, for acks=0, was dropped): observe every phase of the request."""
        received, started, done, remote = (
            request.received_ns,
            request.started_ns,
            request.done_ns,
            request.remote_ns,
        )
        if not received or not done:
            return
        if request.api_key == _FETCH_KEY:  # counted as one of the two; "Fetch" is their sum (`apis`)
            follower = getattr(request.body, "replica_id", -1) >= 0
            api = self._follower_fetch if follower else self._consumer_fetch
        else:
            found = self._by_key.get(request.api_key)
            if found is None:
                name = self._names.get(request.api_key)
                if name is None:
                    return
                found = self._by_key[request.api_key] = self._by_name.setdefault(name, _ApiMetrics())
            api = found
        api.observe(
            request.api_version,
            started - received,
            max(done - started - remote, 0),
            remote,
            dequeued_ns - done,
            sent_ns - dequeued_ns,
        )

    def apis(self) -> dict[str, _ApiMetrics]:
        """Every API's metrics by Kafka's name, with "Fetch" as FetchConsumer and FetchFollower together."""
        by_name = dict(self._by_name)
        by_name[_FETCH] = _ApiMetrics.merged(self._consumer_fetch, self._follower_fetch)
        return by_name
