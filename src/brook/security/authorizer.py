"""AclAuthorizer: the broker's ACL cache, its decisions, and ACL changes through an AclStore.

Lives as long as the broker. Decisions read the current `AclSnapshot` (an immutable value, swapped whole), so
they never wait. Changes (CreateAcls, DeleteAcls, another broker's change seen by the store's watch) are
blocking store calls made off the event loop; each one re-reads the pattern it touched from the store under
`_refresh_lock` and swaps a new snapshot in, so the last read wins and it is the freshest.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence

from brook.security.acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    InvalidAcl,
    PatternType,
    ResourcePattern,
    ResourceType,
    check_new_binding,
)
from brook.security.acl_decisions import (
    AclSnapshot,
    AuthorizerSettings,
    Caller,
    authorize,
    authorize_by_resource_type,
    authorized_operations,
)
from brook.security.acl_store import AclStore, Entries

__all__ = ["AUTHORIZER_CLASS_NAMES", "AclAuthorizer", "authorizer_selected"]

logger = logging.getLogger(__name__)

_RELOAD_RETRY_S = 1.0

# `authorizer.class.name` values that select brook's authorizer (Kafka's two, and brook's own name)
AUTHORIZER_CLASS_NAMES = frozenset(
    {
        "kafka.security.authorizer.AclAuthorizer",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "brook.security.authorizer.AclAuthorizer",
    }
)


def authorizer_selected(class_name: str) -> bool:
    """False for "" (Kafka's default: no authorization); ValueError for a class brook does not have."""
    name = class_name.strip()
    if not name:
        return False
    if name not in AUTHORIZER_CLASS_NAMES:
        raise ValueError(
            f"authorizer.class.name={name} is not available in brook; use one of "
            f"{', '.join(sorted(AUTHORIZER_CLASS_NAMES))} or leave it empty"
        )
    return True


class AclAuthorizer:
    def __init__(self, settings: AuthorizerSettings, store: AclStore) -> None:
        self.settings = settings
        self._store = store
        self._snapshot = AclSnapshot()
        self._refresh_lock = threading.Lock()
        self._closed = False
        self.generation = 0  # bumped with every snapshot swap: answers cached under an older one are stale

    @property
    def snapshot(self) -> AclSnapshot:
        return self._snapshot

    def start(self) -> None:
        """Watch for other brokers' changes, then load every ACL (blocking: off the event loop)."""
        self._store.watch(self._refresh, self._reload)
        with self._refresh_lock:
            self._snapshot = AclSnapshot.of(self._store.load())
            self.generation += 1
        logger.info(
            "authorizer started acls=%d super_users=%s allow_everyone_if_no_acl_found=%s",
            sum(len(e) for e in self._snapshot.acls.values()),
            ",".join(sorted(self.settings.super_users)) or "-",
            self.settings.allow_everyone_if_no_acl_found,
        )

    def close(self) -> None:
        self._closed = True
        self._store.close()

    # --- decisions (any thread, never blocks) ---------------------------------------------------

    def authorize(
        self, caller: Caller, operation: AclOperation, resource_type: ResourceType, name: str
    ) -> bool:
        allowed = authorize(self._snapshot, self.settings, caller, operation, resource_type, name)
        if not allowed:
            logger.debug(
                "denied principal=%s host=%s operation=%s resource=%s:%s",
                caller.principal,
                caller.host,
                operation.name,
                resource_type.name,
                name,
            )
        return allowed

    def authorize_by_resource_type(
        self, caller: Caller, operation: AclOperation, resource_type: ResourceType
    ) -> bool:
        return authorize_by_resource_type(self._snapshot, self.settings, caller, operation, resource_type)

    def authorized_operations(self, caller: Caller, resource_type: ResourceType, name: str) -> int:
        return authorized_operations(self._snapshot, self.settings, caller, resource_type, name)

    def describe(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        return self._snapshot.select(acl_filter)

    # --- changes (blocking: off the event loop) ------------------------------------------------

    def create(self, bindings: Sequence[AclBinding]) -> list[Exception | None]:
        """CreateAcls: one result per binding (None: created, or there already)."""
        results: list[Exception | None] = [None] * len(bindings)
        by_pattern: dict[ResourcePattern, list[int]] = {}
        for index, binding in enumerate(bindings):
            try:
                check_new_binding(binding)
            except InvalidAcl as exc:
                results[index] = exc
                continue
            by_pattern.setdefault(binding.pattern, []).append(index)
        for pattern, indexes in by_pattern.items():
            new = frozenset(bindings[i].entry for i in indexes)
            try:
                self._store.update(pattern, new.union)
            except Exception as exc:  # becomes these bindings' error (and is logged)
                logger.exception("storing ACLs for %s failed", pattern)
                for i in indexes:
                    results[i] = exc
            else:
                logger.info("created ACLs resource=%s entries=%s", pattern, "; ".join(str(e) for e in new))
            self._refresh(pattern)
        return results

    def delete(self, filters: Sequence[AclBindingFilter]) -> list[list[AclBinding] | Exception]:
        """DeleteAcls: per filter, the bindings it deleted (or the error that stopped it)."""
        patterns = {p for f in filters for p in self._snapshot.acls if f.matches_pattern(p)}
        patterns |= {p for f in filters if (p := _exact_pattern(f)) is not None}
        results: list[list[AclBinding] | Exception] = [[] for _ in filters]
        for pattern in sorted(patterns):
            wanted = [i for i, f in enumerate(filters) if f.matches_pattern(pattern)]

            def remove(current: Entries, wanted: list[int] = wanted) -> Entries:
                return frozenset(e for e in current if not any(filters[i].matches_entry(e) for i in wanted))

            try:
                before, after = self._store.update(pattern, remove)
            except Exception as exc:  # becomes these filters' error (and is logged)
                logger.exception("deleting ACLs for %s failed", pattern)
                for i in wanted:
                    results[i] = exc
                continue
            finally:
                self._refresh(pattern)
            for entry in sorted(before - after):
                logger.info("deleted ACL resource=%s entry=%s", pattern, entry)
                for i in wanted:
                    result = results[i]
                    if isinstance(result, list) and filters[i].matches_entry(entry):
                        result.append(AclBinding(pattern, entry))
        return results

    def _reload(self) -> None:
        """Read every ACL again (after an expired ZooKeeper session); retried until it succeeds."""
        for attempt in itertools.count():
            if self._closed:
                return
            try:
                with self._refresh_lock:
                    self._snapshot = AclSnapshot.of(self._store.load())
                    self.generation += 1
                logger.info("reloaded ACLs acls=%d", sum(len(e) for e in self._snapshot.acls.values()))
                return
            except Exception:
                logger.exception("reloading ACLs failed (attempt %d); retrying", attempt + 1)
                time.sleep(_RELOAD_RETRY_S)

    def _refresh(self, pattern: ResourcePattern) -> None:
        """Re-read one pattern from the store and swap it into the snapshot (any thread)."""
        with self._refresh_lock:
            entries = self._store.read(pattern)
            self._snapshot = self._snapshot.replace(pattern, entries)
            self.generation += 1


def _exact_pattern(acl_filter: AclBindingFilter) -> ResourcePattern | None:
    """The one pattern a filter names exactly (Kafka reads it from the store, not only from the cache)."""
    if (
        acl_filter.resource_type in (ResourceType.ANY, ResourceType.UNKNOWN)
        or acl_filter.name is None
        or acl_filter.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED)
    ):
        return None
    return ResourcePattern(acl_filter.resource_type, acl_filter.name, acl_filter.pattern_type)
