"""isolation_level, which Fetch (v4+) and ListOffsets (v2+) share: 0 read_uncommitted, 1 read_committed.

Kafka knows no other value: IsolationLevel.forId throws IllegalArgumentException, which KafkaApis.handle
turns into the request's error response with UNKNOWN_SERVER_ERROR (Errors.forException maps nothing
more specific). It throws only where the broker first asks for the level: a Fetch that names a partition
it would read (authorized and known), a ListOffsets that names a topic the caller may describe. Any other
request is answered as usual (every partition has its own error already).

No handler here: handlers/fetch.py and handlers/list_offsets.py register themselves.
"""

from __future__ import annotations

import logging

from brook.broker.handlers.base import RequestContext

__all__ = ["READ_COMMITTED", "READ_UNCOMMITTED", "is_known_isolation_level", "log_unknown_isolation_level"]

logger = logging.getLogger(__name__)

READ_UNCOMMITTED = 0
READ_COMMITTED = 1


def is_known_isolation_level(isolation_level: int) -> bool:
    return isolation_level in (READ_UNCOMMITTED, READ_COMMITTED)


def log_unknown_isolation_level(ctx: RequestContext, api: str, isolation_level: int) -> None:
    logger.warning(
        "unknown isolation level api=%s version=%d isolation_level=%d client_id=%s: answered UNKNOWN_SERVER_ERROR",
        api,
        ctx.version,
        isolation_level,
        ctx.client_id,
    )
