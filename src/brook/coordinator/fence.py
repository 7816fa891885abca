"""Pause fencing: a coordinator that was frozen long enough to lose its ZooKeeper session stops serving.

A broker stopped by SIGSTOP (or a frozen VM) keeps, when it resumes, the leaderships it had: nothing told
it yet that ZooKeeper expired its session and the controller moved them. Until the metadata catches up
it would answer OffsetFetch out of its old cache. Kafka relies on the controller's LeaderAndIsr arriving
first; brook fences instead: the broker's ticks run every ~100 ms, so a gap between two ticks longer than
half the ZooKeeper session timeout means the process was frozen (kazoo pings every third of the session
timeout, so ZooKeeper cannot expire a session in less than two thirds of it). After such a gap the
coordinator serves nothing for one session timeout, long enough for the ZooKeeper client to learn of
the expiry and the broker to take the new leaderships; then it reloads what it still leads.

Pure and clock-driven: the broker calls `observe(now_ms)` on every tick and asks `allows(now_ms)` on
every request (a request can run before the first tick after the pause).
"""

from __future__ import annotations

__all__ = ["PauseFence"]


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
