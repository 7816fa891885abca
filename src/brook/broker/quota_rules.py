"""Client quotas as Kafka decides them (KIP-13, KIP-55, KIP-124): pure functions and a windowed rate.

A quota entity is a tuple of (entity_type, name) pairs, user first, where name None is the `<default>`
entity: `(("user", "alice"), ("client-id", None))` is "the default client of user alice". Each quota
key (producer_byte_rate, consumer_byte_rate, request_percentage) is looked up on its own, most specific
first (KIP-55's order):

    /users/<user>/clients/<client-id>   /users/<user>/clients/<default>   /users/<user>
    /users/<default>/clients/<client-id>   /users/<default>/clients/<default>   /users/<default>
    /clients/<client-id>   /clients/<default>

The entity that matched decides who shares the measured rate (Kafka's metric tags): a quota set on a
user is shared by all its clients; one set on a client id (or a default) is measured per client id.
The user is the connection's authenticated principal name (SASL user, mapped certificate name); without
authentication it is Kafka's ANONYMOUS principal.

Rates are Kafka's `Rate` over `quota.window.num` samples of `quota.window.size.seconds`; a request that
takes the rate over its bound is throttled for (rate - bound) / bound * window (QuotaUtils.throttleTime).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ANONYMOUS_USER",
    "QUOTA_KEYS",
    "QuotaEntity",
    "RateSensor",
    "TimedCall",
    "entity_from_pairs",
    "find_quota",
]

ANONYMOUS_USER = "ANONYMOUS"
USER = "user"
CLIENT_ID = "client-id"
QUOTA_KEYS = ("producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate")
QuotaEntity = tuple[tuple[str, str | None], ...]
_TYPE_ORDER = {USER: 0, CLIENT_ID: 1}


def entity_from_pairs(pairs: list[tuple[str, str | None]]) -> QuotaEntity:
    """Canonical form (user before client-id); ValueError for unknown or repeated entity types."""
    types = [t for t, _ in pairs]
    if not pairs or len(set(types)) != len(types) or any(t not in _TYPE_ORDER for t in types):
        raise ValueError(f"Invalid quota entity {pairs}: types must be 'user' and/or 'client-id', once each")
    return tuple(sorted(pairs, key=lambda pair: _TYPE_ORDER[pair[0]]))


def _candidates(user: str, client_id: str) -> list[QuotaEntity]:
    return [
        ((USER, user), (CLIENT_ID, client_id)),
        ((USER, user), (CLIENT_ID, None)),
        ((USER, user),),
        ((USER, None), (CLIENT_ID, client_id)),
        ((USER, None), (CLIENT_ID, None)),
        ((USER, None),),
        ((CLIENT_ID, client_id),),
        ((CLIENT_ID, None),),
    ]


def find_quota(
    configs: Mapping[QuotaEntity, Mapping[str, float]], user: str, client_id: str, key: str
) -> tuple[float, tuple[str, str]] | None:
    """(bound, sensor key) of the most specific quota for `key`, or None if the client is unlimited.

    The sensor key is (user or "", client id or ""): who shares this rate.
    """
    for entity in _candidates(user, client_id):
        values = configs.get(entity)
        if values is not None and key in values:
            types = {t for t, _ in entity}
            return values[key], (user if USER in types else "", client_id if CLIENT_ID in types else "")
    return None


@dataclass(slots=True)
class RateSensor:
    """Kafka's Rate: the sum over the live samples divided by the window they span (at least
    samples - 1 whole windows), per second."""

    samples: int = 11
    window_ms: int = 1000
    _starts: list[int] = field(default_factory=list)
    _values: list[float] = field(default_factory=list)

    def record(self, value: float, now_ms: int) -> None:
        self._purge(now_ms)
        if not self._starts or now_ms - self._starts[-1] >= self.window_ms:
            self._starts.append(now_ms)
            self._values.append(0.0)
        self._values[-1] += value

    def rate(self, now_ms: int) -> float:
        self._purge(now_ms)
        return sum(self._values) / (self.window_size_ms(now_ms) / 1000)

    def window_size_ms(self, now_ms: int) -> int:
        elapsed = now_ms - self._starts[0] if self._starts else 0
        full_windows = elapsed // self.window_ms
        if full_windows < self.samples - 1:
            elapsed += (self.samples - 1 - full_windows) * self.window_ms
        return max(elapsed, 1)

    def throttle_time_ms(self, bound: float, now_ms: int) -> int:
        """0 within the bound; else how long the client must wait for the rate to fall back to it."""
        rate = self.rate(now_ms)
        if rate <= bound or bound <= 0:
            return 0 if bound > 0 else self.samples * self.window_ms
        throttle = round((rate - bound) / bound * self.window_size_ms(now_ms))
        return min(throttle, self.samples * self.window_ms)

    def _purge(self, now_ms: int) -> None:
        horizon = now_ms - self.samples * self.window_ms
        while self._starts and self._starts[0] <= horizon:
            del self._starts[0]
            del self._values[0]

    @property
    def idle(self) -> bool:
        return not self._starts


class TimedCall:
    """Awaits a coroutine and adds up the time its steps run on the event loop (not the time it waits):
    brook's measure of the "request handler time" that request_percentage quotas bound."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro
        self.busy_ns = 0

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self._coro.__await__()
        send_value: Any = None
        error: BaseException | None = None
        while True:
            start = time.perf_counter_ns()
            try:
                yielded = steps.throw(error) if error is not None else steps.send(send_value)
            except StopIteration as done:
                return done.value
            finally:
                self.busy_ns += time.perf_counter_ns() - start
            try:
                send_value = yield yielded
                error = None
            except BaseException as exc:  # noqa: BLE001 - handed to the coroutine, as await would
                error = exc
                send_value = None


# -- AlterClientQuotas / DescribeClientQuotas decisions ---------------------------------------------

_BYTE_RATES = ("producer_byte_rate", "consumer_byte_rate", "controller_mutation_rate")


def altered_values(current: Mapping[str, float], ops: list[tuple[str, float, bool]]) -> dict[str, float]:
    """The entity's config after `ops` (key, value, remove); ValueError with Kafka-like text if invalid."""
    values = dict(current)
    for key, value, remove in ops:
        if key not in QUOTA_KEYS:
            raise ValueError(f"Invalid configuration key {key}")
        if remove:
            values.pop(key, None)
            continue
        if value <= 0 or (key in _BYTE_RATES and not float(value).is_integer()):
            raise ValueError(f"Invalid value {value} for configuration {key}")
        values[key] = float(value)
    return values


def entity_matches(entity: QuotaEntity, components: list[tuple[str, int, str | None]], strict: bool) -> bool:
    """DescribeClientQuotas' filter: match_type 0 = exact name, 1 = the default, 2 = any (with this type)."""
    names = dict(entity)
    for entity_type, match_type, match in components:
        if entity_type not in names:
            return False
        name = names[entity_type]
        if (match_type == 0 and name != match) or (match_type == 1 and name is not None):
            return False
    return not strict or {t for t, _, _ in components} == set(names)
