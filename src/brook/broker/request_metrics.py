"""Request rate and latency per API, split the way Kafka's RequestChannel splits a request's time.

A request's life on a connection (server.py), with the time.monotonic_ns() stamps it carries (Request):

    received_ns   parsed off the connection (its bytes are all in)
    started_ns    its handler starts                    RequestQueueTimeMs  = started - received
    (parked)      acks=all, long-poll fetch, rebalance  RemoteTimeMs        = remote_ns (`add_remote_ns`)
    done_ns       the handler returned the response     LocalTimeMs         = done - started - remote
    dequeued      the connection's writer takes it      ResponseQueueTimeMs = dequeued - done
    sent          encoded and handed to the socket      ResponseSendTimeMs  = sent - dequeued
                                                        TotalTimeMs         = sent - received
                                                        ThrottleTimeMs      = the response's throttle time

A Fetch waits for the response before it on its connection (server.py `_fetch_in_turn`) before its
handler starts: that shows as queue time, as a muted channel's does in Kafka. "Sent" is when the bytes
are given to the transport (written or buffered there); a client that reads slowly holds its
connection's next requests instead (their queue time). A Fetch is recorded as FetchConsumer or
FetchFollower; the "Fetch" series, which Kafka also keeps, are their sum, made at scrape time. Recording is
a bisect and two integer additions per phase, with no object kept per request.

ThrottleTimeMs is, as in Kafka, the throttle time a client quota gave the response (`Request.throttle_ms`, set by
broker/quotas.py), not a span of the request's life. ErrorsPerSec counts every error code in each response,
NONE included, as Kafka's `AbstractResponse.errorCounts` does (one per partition for Produce and Fetch): the
hand-encoded Produce and Fetch responses note theirs (`note_errors`); other responses are walked for their
`error_code` fields with a plan made once per response class.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import typing
from bisect import bisect_left
from collections.abc import Awaitable, Iterable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from brook.common.histogram import LATENCY_BUCKETS_MS
from brook.protocol import codec
from brook.protocol.connection import Request

__all__ = ["PHASES", "RequestMetrics", "add_remote_ns", "api_name", "count_errors", "note_errors", "parked"]

# Kafka's RequestMetrics names, as the JMX exporter lowercases them (kafka_network_requestmetrics_<phase>)
PHASES = (
    "requestqueuetimems",
    "localtimems",
    "remotetimems",
    "responsequeuetimems",
    "responsesendtimems",
    "totaltimems",
    "throttletimems",
)
_FETCH_KEY = 1
_BOUNDS_NS = tuple(int(bound * 1_000_000) for bound in LATENCY_BUCKETS_MS)
_LE_MS = (*(repr(bound) for bound in LATENCY_BUCKETS_MS), "+Inf")
_FETCH = "Fetch"
_ALWAYS_SHOWN = ("Produce", "FetchConsumer", "FetchFollower")

T = TypeVar("T")
logger = logging.getLogger(__name__)
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


def note_errors(codes: Iterable[int]) -> None:
    """The error code of each partition of a response the running handler encodes by hand (ErrorsPerSec)."""
    request = _current.get()
    if request is not None:
        counts = request.error_counts = request.error_counts or {}
        for code in codes:
            counts[code] = counts.get(code, 0) + 1


_Plan = tuple[bool, tuple[str, ...], tuple[str, ...]]
_PLANS: dict[type, _Plan] = {}


def _error_plan(cls: type) -> _Plan:
    """Of a kio entity class: has it an error_code, its fields holding entities, those holding tuples of them."""
    plan = _PLANS.get(cls)
    if plan is None:
        try:
            plan = _make_plan(cls)
        except (
            Exception
        ):  # a class the plan cannot read: its errors go uncounted, the response still goes out
            logger.exception("cannot count the error codes of %s", getattr(cls, "__name__", cls))
            plan = (False, (), ())
        _PLANS[cls] = plan
    return plan


def _make_plan(cls: type) -> _Plan:
    hints = typing.get_type_hints(cls)
    has_code, single, many = False, [], []
    for field in dataclasses.fields(cls):
        if field.name == "error_code":
            has_code = True
            continue
        hint = hints.get(field.name)
        args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
        if typing.get_origin(hint) is tuple and args and dataclasses.is_dataclass(args[0]):
            many.append(field.name)
        elif dataclasses.is_dataclass(hint) or (args and dataclasses.is_dataclass(args[0])):
            single.append(field.name)
    return has_code, tuple(single), tuple(many)


def count_errors(entity: Any, counts: dict[int, int]) -> None:
    """Add every error_code of a kio response entity (nested entities included) to counts."""
    has_code, single, many = _error_plan(type(entity))
    if has_code:
        code = int(entity.error_code)
        counts[code] = counts.get(code, 0) + 1
    for name in single:
        child = getattr(entity, name)
        if child is not None:
            count_errors(child, counts)
    for name in many:
        for child in getattr(entity, name) or ():
            count_errors(child, counts)


def api_name(api_key: int, version: int) -> str:
    """Kafka's ApiKeys name ("Produce", "OffsetCommit", ...), from the kio request class's name (its schema is not
    imported: a broker names every API it serves at start)."""
    return codec.request_class_name(api_key, version).removesuffix("Request")


class _ApiMetrics:
    """One API's request counts by version, its error counts, and its seven phase histograms, kept in integer
    nanoseconds (the stamps' unit: no float work per request) and turned into milliseconds when scraped."""

    __slots__ = ("counts", "errors", "requests", "sums")

    def __init__(self) -> None:
        self.requests: dict[int, int] = {}  # api version -> requests answered
        self.errors: dict[int, int] = {}  # error code -> occurrences in responses
        self.counts = [[0] * (len(_BOUNDS_NS) + 1) for _ in PHASES]  # per phase: per bucket, `+Inf` last
        self.sums = [0] * len(PHASES)

    def observe(
        self, version: int, queue: int, local: int, remote: int, response_queue: int, send: int, throttle: int
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
        if throttle:  # (rare: a zero lands in the first bucket without a bisect)
            counts[6][bisect_left(_BOUNDS_NS, throttle)] += 1
            sums[6] += throttle
        else:
            counts[6][0] += 1

    def add_errors(self, counts: dict[int, int]) -> None:
        errors = self.errors
        for code, n in counts.items():
            errors[code] = errors.get(code, 0) + n

    @classmethod
    def merged(cls, *parts: _ApiMetrics) -> _ApiMetrics:
        whole = cls()
        for part in parts:
            for version, n in part.requests.items():
                whole.requests[version] = whole.requests.get(version, 0) + n
            whole.add_errors(part.errors)
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

    def begin(self, request: Request) -> Token[Request | None]:
        """Just before its handler runs, in the request's own task (or, for a handler's synchronous path, on the
        loop: then `end` with the token it returns, once that path is done)."""
        request.started_ns = time.monotonic_ns()
        return _current.set(request)

    @staticmethod
    def end(token: Token[Request | None]) -> None:
        _current.reset(token)

    def record(self, request: Request, dequeued_ns: int, sent_ns: int, response: Any = None) -> None:
        """The response left (or, for acks=0, was dropped): observe every phase of the request, and the
        errors in its response (a kio entity; hand-encoded ones noted theirs with `note_errors`)."""
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
            request.throttle_ms * 1_000_000,
        )
        errors = request.error_counts
        if errors is None and response is not None and not isinstance(response, bytes | bytearray | list):
            errors = {}
            count_errors(response, errors)
        if errors:
            api.add_errors(errors)

    def apis(self) -> dict[str, _ApiMetrics]:
        """Every API's metrics by Kafka's name, with "Fetch" as FetchConsumer and FetchFollower together."""
        by_name = dict(self._by_name)
        by_name[_FETCH] = _ApiMetrics.merged(self._consumer_fetch, self._follower_fetch)
        return by_name
