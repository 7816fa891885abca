"""Where ACLs live: a file in the data dir on a single node, Kafka's znodes on a ZooKeeper cluster.

Both are blocking (file writes with fsync, ZooKeeper round trips): the broker calls them off the event loop.
`update` is a read-modify-write of one resource pattern's entries; on ZooKeeper it is a compare-and-set on
the node's version (retried when another broker wrote in between) followed by a change notification, and
`watch` calls back (on kazoo's thread) with each pattern another broker changed, so every broker's cache
follows within a ZooKeeper round trip.

File layout (`brook-acls.json`, rewritten atomically: temp file, fsync, rename, fsync dir):
    {"version": 1, "acls": [{"resourceType": "Topic", "patternType": "LITERAL", "name": str,
                             "acls": <Kafka's entry list, as in the znodes: acl_znodes.py>}]}
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kazoo.client import KazooState
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from kazoo.recipe.watchers import ChildrenWatch

from brook.common.files import write_atomically
from brook.security.acl import (
    AccessControlEntry,
    PatternType,
    ResourcePattern,
    ResourceType,
    kafka_name,
    parse_name,
)
from brook.security.acl_znodes import (
    ACL_ROOTS,
    CHANGE_PREFIX,
    EXTENDED_CHANGES_PATH,
    LITERAL_CHANGES_PATH,
    change_node,
    decode_change,
    decode_entries,
    encode_entries,
    pattern_from_path,
    resource_path,
)

__all__ = ["AclStore", "FileAclStore", "ZooKeeperAclStore"]

logger = logging.getLogger(__name__)

Entries = frozenset[AccessControlEntry]
Change = Callable[[Entries], Entries]
FILE_NAME = "brook-acls.json"
_CHANGE_EXPIRATION_MS = 15 * 60 * 1000  # Kafka's ZkNodeChangeNotificationListener.changeExpirationMs
_RETRY_CHANGES_S = 1.0
_LOST_RACE = (BadVersionError, NodeExistsError, NoNodeError, NotEmptyError)


class AclStore(Protocol):
    def load(self) -> dict[ResourcePattern, Entries]:
        """Every pattern's entries."""
        ...

    def read(self, pattern: ResourcePattern) -> Entries: ...

    def update(self, pattern: ResourcePattern, change: Change) -> tuple[Entries, Entries]:
        """Replace the pattern's entries with `change(current)`; returns (before, after)."""
        ...

    def watch(self, on_change: Callable[[ResourcePattern], None], on_reload: Callable[[], None]) -> None:
        """Call `on_change(pattern)` (on any thread) when another broker changed that pattern's entries, and
        `on_reload()` when changes may have been missed (everything must be read again)."""
        ...

    def close(self) -> None: ...


class FileAclStore:
    """A single node's ACLs, one JSON file; the lock orders writes from several worker threads."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / FILE_NAME
        self._lock = threading.Lock()
        self._acls: dict[ResourcePattern, Entries] = self._read_file()

    def _read_file(self) -> dict[ResourcePattern, Entries]:
        try:
            doc: Any = json.loads(self._path.read_bytes())
        except FileNotFoundError:
            return {}
        acls: dict[ResourcePattern, Entries] = {}
        for item in doc.get("acls", []):
            pattern = ResourcePattern(
                parse_name(ResourceType, item["resourceType"]),
                item["name"],
                parse_name(PatternType, item["patternType"]),
            )
            acls[pattern] = decode_entries(json.dumps({"acls": item["acls"]}).encode())
        return acls

    def _write_file(self, acls: dict[ResourcePattern, Entries]) -> None:
        items = [
            {
                "resourceType": kafka_name(p.resource_type),
                "patternType": p.pattern_type.name,
                "name": p.name,
                "acls": json.loads(encode_entries(entries))["acls"],
            }
            for p, entries in sorted(acls.items())
            if entries
        ]
        write_atomically(self._path, json.dumps({"version": 1, "acls": items}, indent=1).encode())

    def load(self) -> dict[ResourcePattern, Entries]:
        with self._lock:
            return dict(self._acls)

    def read(self, pattern: ResourcePattern) -> Entries:
        with self._lock:
            return self._acls.get(pattern, frozenset())

    def update(self, pattern: ResourcePattern, change: Change) -> tuple[Entries, Entries]:
        with self._lock:
            before = self._acls.get(pattern, frozenset())
            after = change(before)
            if after != before:
                acls = dict(self._acls)
                acls[pattern] = after
                self._write_file(acls)  # written before it is applied: memory never runs ahead of the file
                self._acls = {p: e for p, e in acls.items() if e}
            return before, after

    def watch(self, on_change: Callable[[ResourcePattern], None], on_reload: Callable[[], None]) -> None:
        """Nothing else writes this file."""

    def close(self) -> None:
        pass


class ZooKeeperAclStore:
    """ACLs in Kafka's znodes on the broker's kazoo client (shared with the metadata store)."""

    def __init__(self, zk: Any) -> None:
        self._zk = zk
        self._closed = False
        self._session_lost = False
        self._changes_lock = threading.Lock()
        self._seen: dict[str, int] = {}  # change path -> highest sequence number handled
        self._change_times: dict[str, dict[str, int]] = {}  # change path -> node -> ctime (ms), for the purge
        for path in (*ACL_ROOTS.values(), LITERAL_CHANGES_PATH, EXTENDED_CHANGES_PATH):
            zk.ensure_path(path)

    def load(self) -> dict[ResourcePattern, Entries]:
        acls: dict[ResourcePattern, Entries] = {}
        for pattern_type, root in ACL_ROOTS.items():
            for type_node in self._children(root):
                for name in self._children(f"{root}/{type_node}"):
                    try:
                        pattern = pattern_from_path(pattern_type, type_node, name)
                    except ValueError:
                        logger.warning("ignoring ACL node of unknown resource type %s/%s", root, type_node)
                        break
                    entries = self.read(pattern)
                    if entries:
                        acls[pattern] = entries
        return acls

    def read(self, pattern: ResourcePattern) -> Entries:
        data, _ = self._get(resource_path(pattern))
        try:
            return decode_entries(data)
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable ACL node %s: its ACLs are ignored", resource_path(pattern))
            return frozenset()

    def update(self, pattern: ResourcePattern, change: Change) -> tuple[Entries, Entries]:
        """A compare-and-set of the resource node and its change notification in one ZooKeeper transaction
        (the ACLs never change without the other brokers being told); retried when another broker wrote first."""
        path = resource_path(pattern)
        prefix, event = change_node(pattern)
        self._zk.ensure_path(path.rsplit("/", 1)[0])
        while True:
            data, version = self._get(path)
            before = decode_entries(data)
            after = change(before)
            if after == before:
                return before, after
            txn = self._zk.transaction()
            if not after:
                txn.delete(path, version=version)
            elif version < 0:
                txn.create(path, encode_entries(after))
            else:
                txn.set_data(path, encode_entries(after), version=version)
            txn.create(prefix, event, sequence=True)
            failures = [r for r in txn.commit() if isinstance(r, Exception)]
            if not failures:
                return before, after
            if not any(isinstance(f, _LOST_RACE) for f in failures):
                raise failures[0]
            # another broker wrote in between: read again

    def watch(self, on_change: Callable[[ResourcePattern], None], on_reload: Callable[[], None]) -> None:
        """Change notifications, and a reload after an expired session: the notifications made meanwhile may
        have been purged (they live 15 minutes), so only reading everything again is sure to catch up."""
        self._zk.add_listener(lambda state: self._on_session_state(state, on_reload))
        for changes_path in (LITERAL_CHANGES_PATH, EXTENDED_CHANGES_PATH):
            existing = self._children(changes_path)
            self._seen[changes_path] = max((_sequence(n) for n in existing), default=-1)
            self._change_times[changes_path] = {n: 0 for n in existing}  # purged once read as old

            def on_children(children: list[str], path: str = changes_path) -> bool | None:
                if self._closed:
                    return False  # stop watching
                self._on_changes(path, children, on_change)
                return None

            ChildrenWatch(self._zk, changes_path, on_children)

    def _on_session_state(self, state: str, on_reload: Callable[[], None]) -> None:
        """kazoo's connection thread: after a lost session, reload on a thread of its own (never block kazoo's)."""
        if state == KazooState.LOST:
            self._session_lost = True
        elif state == KazooState.CONNECTED and self._session_lost and not self._closed:
            self._session_lost = False
            threading.Thread(target=on_reload, name="acl-reload", daemon=True).start()

    def _on_changes(
        self, path: str, children: list[str], on_change: Callable[[ResourcePattern], None]
    ) -> None:
        """On kazoo's thread: re-read the resources named by change nodes newer than the last handled. A read
        ZooKeeper fails is retried a second later (from the first node not handled)."""
        try:
            with self._changes_lock:  # the watch's thread and a retry timer take turns
                self._apply_changes(path, children, on_change)
        except Exception:
            logger.exception(
                "reading ACL changes under %s failed; retrying in %.0f s", path, _RETRY_CHANGES_S
            )
            retry = threading.Timer(_RETRY_CHANGES_S, self._retry_changes, (path, on_change))
            retry.daemon = True
            retry.start()

    def _retry_changes(self, path: str, on_change: Callable[[ResourcePattern], None]) -> None:
        if not self._closed:
            self._on_changes(path, self._children(path), on_change)

    def _apply_changes(
        self, path: str, children: list[str], on_change: Callable[[ResourcePattern], None]
    ) -> None:
        for node in sorted(children, key=_sequence):
            if _sequence(node) <= self._seen[path]:
                continue
            data, stat = self._get_with_stat(f"{path}/{node}")
            if data is None:
                self._seen[path] = _sequence(node)  # purged meanwhile
                continue
            self._change_times[path][node] = stat.ctime
            try:
                pattern = decode_change(path, data)
            except (ValueError, KeyError, UnicodeDecodeError):
                logger.warning("ignoring unreadable ACL change node %s/%s", path, node)
                self._seen[path] = _sequence(node)
                continue
            on_change(pattern)  # re-reads the resource: a failure leaves this node to the retry
            self._seen[path] = _sequence(node)
        self._purge(path)

    def _purge(self, path: str) -> None:
        """Delete change nodes older than 15 minutes (as Kafka does), so the list stays short."""
        now_ms = int(time.time() * 1000)
        times = self._change_times[path]
        for node, ctime in list(times.items()):
            if ctime == 0:
                stat = self._zk.exists(f"{path}/{node}")
                ctime = times[node] = stat.ctime if stat is not None else -1
            if ctime < now_ms - _CHANGE_EXPIRATION_MS:
                try:
                    self._zk.delete(f"{path}/{node}")
                except NoNodeError:
                    pass
                del times[node]

    def close(self) -> None:
        self._closed = True

    def _children(self, path: str) -> list[str]:
        try:
            return list(self._zk.get_children(path))
        except NoNodeError:
            return []

    def _get(self, path: str) -> tuple[bytes | None, int]:
        data, stat = self._get_with_stat(path)
        return data, (stat.version if stat is not None else -1)

    def _get_with_stat(self, path: str) -> tuple[bytes | None, Any]:
        try:
            data, stat = self._zk.get(path)
        except NoNodeError:
            return None, None
        return data, stat


def _sequence(node: str) -> int:
    digits = node[len(CHANGE_PREFIX) :] if node.startswith(CHANGE_PREFIX) else ""
    return int(digits) if digits.isdigit() else -1
