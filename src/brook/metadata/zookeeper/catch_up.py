"""Watch refreshes that ZooKeeper failed, redone until they succeed.

A kazoo DataWatch/ChildrenWatch re-arms its ZooKeeper watch and records the version it saw *before* it calls
us back, and never calls back again for that version. So when our callback's own reads fail (ConnectionLoss
while ZooKeeper is paused or the link is cut, SessionExpired, a timeout), the change it reported would never
be applied: the cluster image would keep, say, an old leader until the znode changed again. Instead the
callback hands its refresh to `CatchUp.run`, which runs it at once and, when ZooKeeper fails it, logs one
warning and redoes it on a thread of its own with backoff until it succeeds (or the store closes). A refresh
re-reads the current znodes, so a later redo of the same key replaces an earlier one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kazoo.exceptions import KazooException

__all__ = ["CatchUp"]

logger = logging.getLogger(__name__)

RETRY_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)


class CatchUp:
    """Runs watch refreshes; keeps the ones ZooKeeper failed and retries them on the `zk-catch-up` thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[str, Callable[[], object]] = {}  # key -> refresh to redo (the latest wins)
        self._attempts = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> list[str]:
        with self._cond:
            return sorted(self._due)

    def run(self, key: str, refresh: Callable[[], object], redo: Callable[[], object] | None = None) -> None:
        """Run `refresh` now; if ZooKeeper fails it, run `redo` (default: `refresh`) later until it succeeds.
        Never raises a kazoo error (kazoo's callback thread would only log it, and the change would be lost)."""
        try:
            refresh()
        except KazooException as exc:
            self._defer(key, redo or refresh, exc)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._due.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _defer(self, key: str, refresh: Callable[[], object], exc: BaseException) -> None:
        with self._cond:
            if self._closed:
                return
            logger.warning(
                "zookeeper read for %s failed (%s); retrying until it succeeds", key, type(exc).__name__
            )
            self._due[key] = refresh
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="zk-catch-up", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._due and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                key, refresh = next(iter(self._due.items()))
                del self._due[key]
            try:
                refresh()
            except KazooException as exc:
                with self._cond:
                    if self._closed:
                        return
                    self._due.setdefault(key, refresh)  # a newer redo of the same key, if any, wins
                    delay = RETRY_BACKOFF_S[min(self._attempts, len(RETRY_BACKOFF_S) - 1)]
                    self._attempts += 1
                    logger.debug("catch-up of %s failed again (%s)", key, type(exc).__name__)
                    self._cond.wait(delay)
                continue
            except Exception:
                logger.exception("catch-up of %s failed; dropped", key)
                continue
            with self._cond:
                self._attempts = 0
            logger.info("caught up with zookeeper for %s", key)
