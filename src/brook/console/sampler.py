"""Samples the cluster while the console runs: the newest snapshot for the pages, and histories of log end
offsets, committed offsets, bytes on disk and group lag for the rates and the lag-over-time chart.

The snapshot is taken in a worker thread (the Kafka clients block) with a time limit; the pages render from
the newest one, so no page waits on the cluster. Each new snapshot bumps `version` and wakes the
server-sent-event streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor

from brook.console.model import lag_of, rate_per_s
from brook.console.snapshot import Snapshot

__all__ = ["History", "Sampler"]

logger = logging.getLogger("brook.console")

_KEEP_SAMPLES = 360
_RATE_WINDOW_S = 10.0


class History:
    """(time_s, value) samples, the newest last, at most _KEEP_SAMPLES."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque(maxlen=_KEEP_SAMPLES)

    def add(self, at_s: float, value: int) -> None:
        self.samples.append((at_s, value))

    def rate(self, window_s: float = _RATE_WINDOW_S) -> float | None:
        samples = list(self.samples)  # one copy: pages read this from their rendering thread
        if not samples:
            return None
        newest = samples[-1][0]
        recent = [s for s in samples if s[0] >= newest - window_s]
        if len(recent) < 2 and len(samples) >= 2:
            recent = samples[-2:]
        return rate_per_s(recent)


class Sampler:
    def __init__(
        self,
        take: Callable[[], Snapshot],
        *,
        interval_s: float,
        timeout_s: float,
        executor: Executor | None = None,
    ) -> None:
        self._take = take
        self._executor = executor
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.snapshot: Snapshot | None = None
        self.version = 0
        self.error: str | None = None
        self.messages_in = History()
        self.messages_out = History()
        self.bytes_on_disk = History()
        self.bytes_in = History()  # from the brokers' metrics, when the console reads them
        self.bytes_out = History()
        self.topic_messages_in: dict[str, History] = {}
        self.topic_bytes_in: dict[str, History] = {}
        self.topic_bytes_out: dict[str, History] = {}
        self.group_lag: dict[str, History] = {}
        self._changed = asyncio.Condition()
        self._running: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None

    # ---- driving ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug in one sample: logged, and the next one is still taken
                logger.exception("console: sampling failed")
            await asyncio.sleep(self.interval_s)

    async def refresh(self) -> None:
        """Take a snapshot that starts after this call (a form's change is in it): after the one being
        taken, if any; callers at the same time share one."""
        running = self._running
        if running is not None and not running.done():
            await asyncio.shield(running)
        if self._running is running or self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._refresh_once())
        await asyncio.shield(self._running)

    async def first_snapshot(self) -> Snapshot | None:
        if self.snapshot is None:
            await self.refresh()
        return self.snapshot

    async def _refresh_once(self) -> None:
        started = time.monotonic()
        try:
            snap = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._executor, self._take),
                timeout=self.timeout_s * 3,
            )
            if time.monotonic() - started > self.timeout_s:
                logger.warning("console: a snapshot took %.1f s", time.monotonic() - started)
            self.record(snap)
        except TimeoutError:
            self.error = f"the cluster did not answer within {self.timeout_s * 3:.0f} s"
            logger.warning("console: %s", self.error)
        except Exception as exc:  # a bug in taking or recording it: the console shows it and keeps sampling
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("console: snapshot failed")
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    async def wait_for_change(self, version: int, timeout_s: float) -> int:
        """The version after `version`, or `version` itself after timeout_s without a change."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version > version), timeout_s)
            return self.version

    # ---- recording (pure bookkeeping, tests call it with snapshots they build) ----------------------------

    def record(self, snap: Snapshot) -> None:
        self.error = "; ".join(snap.errors) if snap.errors and not snap.topics else None
        self.snapshot = snap
        at = snap.taken_at_s
        user_topics = [t for t in snap.topics.values() if not t.internal]
        if any(p.log_end_offset is not None for t in user_topics for p in t.partitions):
            self.messages_in.add(at, sum(t.log_end_offset_sum for t in user_topics))
        for t in user_topics:
            self.topic_messages_in.setdefault(t.name, History()).add(at, t.log_end_offset_sum)
        names = {t.name for t in user_topics}
        if snap.topic_bytes is not None:
            for counters, per_topic, whole in (
                (snap.topic_bytes.bytes_in, self.topic_bytes_in, self.bytes_in),
                (snap.topic_bytes.bytes_out, self.topic_bytes_out, self.bytes_out),
            ):
                whole.add(at, sum(n for topic, n in counters.items() if topic in names))
                for name in names:
                    per_topic.setdefault(name, History()).add(at, counters.get(name, 0))
        for histories in (self.topic_messages_in, self.topic_bytes_in, self.topic_bytes_out):
            for gone in set(histories) - names:
                del histories[gone]
        self.messages_out.add(at, sum(sum(g.committed.values()) for g in snap.groups.values()))
        if snap.log_dirs:
            self.bytes_on_disk.add(at, sum(d.size_bytes for d in snap.log_dirs))
        for group in snap.groups.values():
            lags = [lag_of(c, snap.log_end_offset(t, p)) for (t, p), c in group.committed.items()]
            known = [lag for lag in lags if lag is not None]
            if known:
                self.group_lag.setdefault(group.group_id, History()).add(at, sum(known))

    def topic_rate(self, name: str) -> float | None:
        """Messages in per second of a topic."""
        return _rate(self.topic_messages_in, name)

    def topic_bytes_rates(self, name: str) -> tuple[float | None, float | None]:
        """Bytes in and out per second of a topic (None without the brokers' metrics)."""
        return _rate(self.topic_bytes_in, name), _rate(self.topic_bytes_out, name)

    @staticmethod
    def now_s() -> float:
        return time.time()


def _rate(histories: dict[str, History], name: str) -> float | None:
    history = histories.get(name)
    return history.rate() if history else None
