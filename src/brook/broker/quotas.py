"""QuotaManager: client quotas enforced as Kafka does (decisions in quota_rules.py).

Quota configs live in the metadata store (ZooKeeper's /config/users and /config/clients on a cluster,
the metadata file on a single node); each broker keeps a copy, re-read after its own AlterClientQuotas
and every `_REFRESH_S` (what other brokers changed). Sensors are per quota key and per sharing entity,
and are dropped after an hour unused (Kafka's InactiveSensorExpirationTimeSeconds).

Throttling (KIP-219): the response carries throttle_time_ms and the broker reads nothing more from that
connection for that long (and handles its requests one at a time, as Kafka handles every connection, so
requests it pipelined wait too); Produce before v6 and Fetch before v8 predate KIP-219, so their responses are
also held back for the throttle time. A fetch over its quota is answered empty (nothing is counted),
as Kafka does. request_percentage counts a request's on-loop time, checked after the request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from brook.broker.quota_rules import (
    ANONYMOUS_USER,
    QuotaEntity,
    RateSensor,
    TimedCall,
    altered_values,
    find_quota,
)
from brook.metadata.zookeeper import ZooKeeperMetadataStore

if TYPE_CHECKING:
    from brook.broker.app import Broker
    from brook.broker.handlers.base import Channel, RequestContext

logger = logging.getLogger(__name__)

__all__ = ["QuotaManager"]

PRODUCE = "producer_byte_rate"
FETCH = "consumer_byte_rate"
REQUEST = "request_percentage"
_REFRESH_S = 1.0
_SENSOR_EXPIRY_MS = 3_600_000
_KIP_219_VERSIONS = {0: 6, 1: 8}  # from these versions on, the client waits out throttle_time_ms itself


class QuotaManager:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._samples = broker.config.int("quota.window.num")
        self._window_ms = broker.config.int("quota.window.size.seconds") * 1000
        self.configs: Mapping[QuotaEntity, Mapping[str, float]] = {}
        self._sensors: dict[tuple[str, str, str], tuple[RateSensor, int]] = {}
        self._blocking_store = isinstance(broker.metadata, ZooKeeperMetadataStore)
        self._connection_locks: weakref.WeakKeyDictionary[Channel, asyncio.Lock] = weakref.WeakKeyDictionary()

    def now_ms(self) -> int:
        return self._broker.clock.monotonic_ms()

    # --- configs ---------------------------------------------------------------------------------

    def reload(self) -> None:
        self.configs = self._broker.metadata.client_quotas()

    async def read_configs(self) -> Mapping[QuotaEntity, Mapping[str, float]]:
        """Fresh from the store (off the loop when it is ZooKeeper)."""
        if self._blocking_store:
            return await asyncio.to_thread(self._broker.metadata.client_quotas)
        return self._broker.metadata.client_quotas()

    async def write_config(self, entity: QuotaEntity, values: Mapping[str, float]) -> None:
        if self._blocking_store:
            await asyncio.to_thread(self._broker.metadata.set_client_quota, entity, values)
        else:
            self._broker.metadata.set_client_quota(entity, values)
        logger.info("client quota entity=%s values=%s", entity, dict(values))
        self.configs = await self.read_configs()

    altered = staticmethod(altered_values)

    async def refresh_loop(self) -> None:
        """Re-read the quota configs every second. A metadata store that cannot answer (ZooKeeper paused or
        unreachable) keeps the last configs in force: one warning when that starts, one line when it ends."""
        failing = False
        while True:
            await asyncio.sleep(_REFRESH_S)
            try:
                self.configs = await self.read_configs()
            except Exception as exc:
                if not failing:
                    logger.warning("reading client quotas failed, keeping the last ones (%r)", exc)
                logger.debug("reading client quotas failed", exc_info=True)
                failing = True
                continue
            if failing:
                logger.info("reading client quotas again")
                failing = False

    # --- byte rates --------------------------------------------------------------------------------

    def _sensor(
        self, key: str, client_id: str, user: str = ANONYMOUS_USER
    ) -> tuple[RateSensor, float] | None:
        found = find_quota(self.configs, user, client_id, key)
        if found is None:
            return None
        bound, (user, client) = found
        now = self.now_ms()
        entry = self._sensors.get((key, user, client))
        sensor = entry[0] if entry is not None else RateSensor(self._samples, self._window_ms)
        self._sensors[(key, user, client)] = (sensor, now)
        if len(self._sensors) > 1024:
            self._expire(now)
        return sensor, bound

    def record_produce(self, ctx: RequestContext, request_bytes: int) -> int:
        """Count a produce request's bytes; its throttle time in ms (0 within the quota)."""
        recorded = self._record(PRODUCE, ctx, request_bytes)
        return recorded[0] if recorded is not None else 0

    def fetch_max_bytes(self, ctx: RequestContext) -> int:
        """What one fetch may return under the client's consumer_byte_rate: a full quota window's worth."""
        if not self.configs:
            return 0x7FFFFFFF
        found = find_quota(self.configs, quota_user(ctx), ctx.client_id, FETCH)
        if found is None:
            return 0x7FFFFFFF
        return max(1, int(found[0] * (self._samples - 1) * self._window_ms / 1000))

    def record_fetch(self, ctx: RequestContext, response_bytes: int) -> int:
        """Count a fetch response; if that breaks the quota it is not counted (the caller answers empty)."""
        recorded = self._record(FETCH, ctx, response_bytes)
        if recorded is None:
            return 0
        throttle_ms, sensor, now = recorded
        if throttle_ms:
            sensor.record(-response_bytes, now)
        return throttle_ms

    def _record(self, key: str, ctx: RequestContext, amount: int) -> tuple[int, RateSensor, int] | None:
        """Count `amount` in the client's sensor for `key`: (throttle ms, the sensor, now_ms); None when
        no quota applies to the client."""
        if not self.configs:
            return None  # no quota set anywhere (the usual case): nothing to look up per request
        found = self._sensor(key, ctx.client_id, quota_user(ctx))
        if found is None:
            return None
        sensor, bound = found
        now = self.now_ms()
        sensor.record(amount, now)
        return sensor.throttle_time_ms(bound, now), sensor, now

    async def throttle(self, ctx: RequestContext, throttle_ms: int) -> None:
        """Mute the client's connection for `throttle_ms`; hold the response too for pre-KIP-219 versions."""
        if throttle_ms <= 0:
            return
        self._broker.stats.throttled_responses += 1
        ctx.request.throttle_ms = max(ctx.request.throttle_ms, throttle_ms)  # its ThrottleTimeMs
        channel = ctx.channel
        if channel is not None:
            channel.mute_for(throttle_ms)
        if ctx.version < _KIP_219_VERSIONS.get(ctx.request.api_key, 0):
            await asyncio.sleep(throttle_ms / 1000)

    # --- request time ------------------------------------------------------------------------------

    async def run(
        self, ctx: RequestContext, handler: Callable[[RequestContext, Any], Awaitable[Any]], body: Any
    ) -> Any:
        """Run a handler. A client with any quota has its requests handled one at a time per connection,
        none while its connection is muted (Kafka handles every connection that way); with a
        request_percentage quota the handler's time is measured and throttled past the quota."""
        channel = ctx.channel
        if not self.configs or channel is None or not self._has_quota(ctx.client_id, quota_user(ctx)):
            return await handler(ctx, body)
        lock = self._connection_locks.get(channel)
        if lock is None:
            lock = self._connection_locks[channel] = asyncio.Lock()
        async with lock:
            await channel.wait_unmuted()
            found = self._sensor(REQUEST, ctx.client_id, quota_user(ctx))
            if found is None:
                return await handler(ctx, body)
            timed = TimedCall(handler(ctx, body))
            result = await timed
            sensor, bound = found
            now = self.now_ms()
            sensor.record(timed.busy_ns / 1e9 * 100, now)  # percent of one thread, times seconds
            throttle_ms = min(sensor.throttle_time_ms(bound, now), self._window_ms)  # Kafka's request cap
            if throttle_ms > 0:
                channel.mute_for(throttle_ms)
                self._broker.stats.throttled_responses += 1
                ctx.request.throttle_ms = max(ctx.request.throttle_ms, throttle_ms)  # its ThrottleTimeMs
                result = _with_throttle_time(result, throttle_ms)
            return result

    def _has_quota(self, client_id: str, user: str = ANONYMOUS_USER) -> bool:
        return any(find_quota(self.configs, user, client_id, key) for key in (PRODUCE, FETCH, REQUEST))

    def _expire(self, now_ms: int) -> None:
        for key, (_, last_used_ms) in list(self._sensors.items()):
            if now_ms - last_used_ms > _SENSOR_EXPIRY_MS:
                del self._sensors[key]


def quota_user(ctx: RequestContext) -> str:
    """The user a quota is looked up for: the principal's name ("User:alice" -> "alice"; ANONYMOUS before
    authentication), as Kafka's quota manager uses KafkaPrincipal.getName()."""
    return ctx.principal.partition(":")[2] or ANONYMOUS_USER


def _with_throttle_time(result: Any, throttle_ms: int) -> Any:
    """A kio response entity with its throttle_time raised to `throttle_ms` (hand-encoded bytes as they are)."""
    if dataclasses.is_dataclass(result) and hasattr(result, "throttle_time"):
        current = result.throttle_time
        wanted = datetime.timedelta(milliseconds=throttle_ms)
        if isinstance(current, datetime.timedelta) and current < wanted:
            return dataclasses.replace(result, throttle_time=wanted)  # type: ignore[type-var]
    return result
