"""Pause fencing: a coordinator that was frozen long enough to lose its ZooKeeper session stops serving.

A broker stopped by SIGSTOP (or a frozen VM) keeps, when it resumes, the leaderships it had: nothing told
it yet that ZooKeeper expired its session and the controller moved them. Until the metadata catches up
it would answer OffsetFetch out of its old cache. Kafka relies on the controller's LeaderAndIsr arriving
first; brook fences instead: the broker's ticks run every ~100 ms, so a gap between two ticks longer than
half the ZooKeeper session timeout means the process was frozen (kazoo pings every third of the session
timeout, so ZooKeeper cannot expire a session in less than two thirds of it). After such a gap the
coordinator serves nothing for one session timeout, long enough for the ZooKeeper client to learn of
the expiry and the broker to take the new leaderships. Even then it serves a partition it still believes
it leads only once every other ISR member has fetched from it since the pause (`followers_confirm`):
followers that moved to a new leader fetch from that one instead, so a lost leadership is never taken
for a current one, however slow the metadata is.

Pure and clock-driven: the broker calls `observe(now_ms)` on every tick and asks `allows(now_ms)` on
every request (a request can run before the first tick after the pause).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["PauseFence", "followers_confirm"]


class PauseFence:
    def __init__(self, session_timeout_ms: int) -> None:
        self.pause_threshold_ms = session_timeout_ms // 2
        self.hold_ms = session_timeout_ms
        self._last_tick_ms: int | None = None
        self._fenced_until_ms = -1

    def observe(self, now_ms: int) -> bool:
        """One tick of the broker (monotonic ms). True when it ends a pause: drop what is loaded."""
        last, self._last_tick_ms = self._last_tick_ms, now_ms
        if last is not None and now_ms - last > self.pause_threshold_ms:
            self._fenced_until_ms = now_ms + self.hold_ms
            return True
        return False

    def allows(self, now_ms: int) -> bool:
        """May the coordinator answer now? No within the hold after a pause, nor during a pause not yet
        seen by a tick."""
        if now_ms < self._fenced_until_ms:
            return False
        return self._last_tick_ms is None or now_ms - self._last_tick_ms <= self.pause_threshold_ms


def followers_confirm(
    isr: Iterable[int], node_id: int, last_fetch_ms: Mapping[int, int], since_ms: int
) -> bool:
    """Every ISR member other than us fetched from us at or after `since_ms` (the end of a pause)."""
    return all(last_fetch_ms.get(r, -1) >= since_ms for r in isr if r != node_id)
