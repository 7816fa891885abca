"""Every user's SCRAM credentials in memory (Kafka's CredentialCache), so an authentication never waits for
ZooKeeper: loaded once when the store connects, then kept current by Kafka's config change notifications.

Each credential change (ours, another broker's, or kafka-configs.sh --zookeeper) writes the user's node and then
posts `/config/changes/config_change_<seq>` {"version": 2, "entity_path": "users/<sanitized user>"} (scram.py).
A ChildrenWatch on /config/changes re-reads the user of each notification newer than the last one handled, so a
change holds on every broker within a ZooKeeper round trip or two. Notifications for other entities (topics,
clients, brokers) are skipped.

While the cache cannot be trusted (a read of a notification failed, or the session was lost and notifications
may have gone by) it is dropped: lookups read ZooKeeper (the caller runs them off the event loop) until a full
reload, on a thread of its own, succeeds. The user's own writes through this broker update it at once.
Notifications older than 15 minutes are deleted, as Kafka's brokers do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import unquote

from kazoo.client import KazooState
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.recipe.watchers import ChildrenWatch

from brook.metadata.zookeeper.scram import (
    CHANGES_PATH,
    read_scram_credential,
    read_scram_credentials,
    read_user_scram_credentials,
)

logger = logging.getLogger(__name__)

__all__ = ["ScramCredentialCache"]

_NOTIFICATION = "config_change_"
_RELOAD_RETRY_S = 1.0
_CHANGE_EXPIRATION_MS = 15 * 60 * 1000  # Kafka's ZkNodeChangeNotificationListener.changeExpirationMs


def _sequence(node: str) -> int:
    digits = node.removeprefix(_NOTIFICATION)
    return int(digits) if node.startswith(_NOTIFICATION) and digits.isdigit() else -1


def notified_user(data: bytes) -> str | None:
    """The user a config change notification names (its `entity_path` is `users/<user>`), else None."""
    try:
        doc = json.loads(data)
        path = doc.get("entity_path", "") if isinstance(doc, dict) else ""
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(path, str) or not path.startswith("users/") or "/" in path[len("users/") :]:
        return None  # another entity, or a user's client-id quota (`users/<u>/clients/<c>`)
    return unquote(path[len("users/") :])


class ScramCredentialCache:
    def __init__(self, zk: Any) -> None:
        self._zk = zk
        self._lock = threading.Lock()  # kazoo's thread, reload threads and lookups take turns
        self._credentials: dict[str, dict[str, str]] | None = None  # None: read through to ZooKeeper
        self._seen = -1  # the last notification handled
        self._change_times: dict[str, int] = {}  # notification -> ctime (ms; 0: not read yet), for the purge
        self._session_lost = False
        self._closed = False
        zk.ensure_path(CHANGES_PATH)
        self._reload()
        zk.add_listener(self._on_session_state)
        # calls back at once with the current children (all already seen), then on kazoo's thread per change
        ChildrenWatch(zk, CHANGES_PATH, self._on_children)

    def credential(self, user: str, mechanism: str) -> str | None:
        with self._lock:
            cached = self._credentials
            if cached is not None:
                return cached.get(user, {}).get(mechanism)
        return read_scram_credential(self._zk, user, mechanism)

    def credentials(self) -> dict[str, dict[str, str]]:
        with self._lock:
            cached = self._credentials
            if cached is not None:
                return {user: dict(mechanisms) for user, mechanisms in cached.items()}
        return read_scram_credentials(self._zk)

    def refresh_user(self, user: str) -> None:
        """Re-read one user's credentials (after this broker wrote them, or a notification named them)."""
        mechanisms = read_user_scram_credentials(self._zk, user)
        with self._lock:
            if self._credentials is None:
                return
            if mechanisms:
                self._credentials[user] = mechanisms
            else:
                self._credentials.pop(user, None)

    def close(self) -> None:
        self._closed = True

    def _reload(self) -> None:
        """Read every user again; notifications up to the newest present now are then handled."""
        try:
            children = self._zk.get_children(CHANGES_PATH)
        except NoNodeError:
            children = []
        newest = max((_sequence(n) for n in children), default=-1)
        loaded = read_scram_credentials(self._zk)  # after listing: a change listed is in what we read
        with self._lock:
            self._credentials = loaded
            self._seen = max(self._seen, newest)
        logger.debug("SCRAM credential cache loaded users=%d", len(loaded))

    def _reload_until_done(self) -> None:
        while not self._closed:
            try:
                self._reload()
                return
            except (KazooException, OSError, ValueError) as exc:
                logger.warning("reloading SCRAM credentials failed (%s); retrying", exc)
                threading.Event().wait(_RELOAD_RETRY_S)

    def _invalidate(self) -> None:
        with self._lock:
            self._credentials = None
        threading.Thread(target=self._reload_until_done, name="scram-reload", daemon=True).start()

    def _purge(self) -> None:
        """Delete notifications older than 15 minutes, as every Kafka broker does, so the list stays short."""
        now_ms = int(time.time() * 1000)
        for node, ctime in list(self._change_times.items()):
            if ctime == 0:
                stat = self._zk.exists(f"{CHANGES_PATH}/{node}")
                ctime = self._change_times[node] = stat.ctime if stat is not None else -1
            if ctime < now_ms - _CHANGE_EXPIRATION_MS:
                with contextlib.suppress(NoNodeError):
                    self._zk.delete(f"{CHANGES_PATH}/{node}")
                del self._change_times[node]

    def _on_session_state(self, state: str) -> None:
        """kazoo's connection thread: after a lost session, notifications may have been missed: reload."""
        if state == KazooState.LOST:
            self._session_lost = True
        elif state == KazooState.CONNECTED and self._session_lost and not self._closed:
            self._session_lost = False
            self._invalidate()

    def _on_children(self, children: list[str]) -> bool | None:
        if self._closed:
            return False  # stop watching
        try:
            for node in sorted(children, key=_sequence):
                sequence = _sequence(node)
                if sequence <= self._seen:
                    continue
                try:
                    data, stat = self._zk.get(f"{CHANGES_PATH}/{node}")
                    self._change_times[node] = stat.ctime
                except NoNodeError:
                    data = b""  # purged meanwhile
                user = notified_user(data) if data else None
                if user is not None:
                    self.refresh_user(user)
                self._seen = sequence
            for node in children:
                self._change_times.setdefault(node, 0)
            self._purge()
        except Exception:
            logger.exception("reading SCRAM credential changes failed; reloading every user")
            self._invalidate()
        return None
