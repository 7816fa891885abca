"""Broker registration: the ephemeral /brokers/ids/<id>, created once the previous holder is gone.

A broker restarted faster than ZooKeeper expires its previous session finds its own old registration still
there, owned by that dead session. Kafka's checkedEphemeralCreate accepts the znode only if the current session
owns it; brook then waits (logging who holds it, with a watch on the znode and a poll as a fallback) until
ZooKeeper drops it, and creates it again. It never gives up: a broker does not exit because ZooKeeper is slow
to expire a session, was paused, or was unreachable for a while. (Two live brokers configured with the same id
would wait for each other forever; the warning names the session that holds the id.)
"""

from __future__ import annotations

import logging
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError

from brook.common.clock import Clock
from brook.metadata.api import BrokerInfo
from brook.metadata.zookeeper.layout import broker_path, dumps, registration_doc

__all__ = ["register_broker"]

logger = logging.getLogger(__name__)

_POLL_S = 1.0  # a watch wakes us at once; the poll covers a watch lost with a connection
_LOG_EVERY_S = 5.0
_RETRY_BACKOFF_S = (0.1, 0.2, 0.5, 1.0)


def register_broker(zk: KazooClient, broker: BrokerInfo, clock: Clock, stopped: threading.Event) -> bool:
    """Create /brokers/ids/<id> for this session, waiting out a stale holder. False only if `stopped` was set."""
    path = broker_path(broker.node_id)
    waited_since: float | None = None
    last_log = 0.0
    failures = 0
    while not stopped.is_set():
        try:
            zk.create(path, dumps(registration_doc(broker, clock.now_ms())), ephemeral=True)
            if waited_since is not None:
                logger.info(
                    "stale registration gone; registering path=%s waited_s=%.1f",
                    path,
                    time.monotonic() - waited_since,
                )
            logger.info(
                "registered broker in zookeeper path=%s endpoint=%s:%d", path, broker.host, broker.port
            )
            return True
        except NodeExistsError:
            pass
        except (KazooException, KazooTimeoutError) as exc:
            # connection lost or session expired mid-way: kazoo reconnects; we try again
            delay = _RETRY_BACKOFF_S[min(failures, len(_RETRY_BACKOFF_S) - 1)]
            failures += 1
            logger.warning("registering in zookeeper failed (%s); retrying in %.1fs", exc, delay)
            stopped.wait(delay)
            continue
        gone = threading.Event()
        try:
            stat = zk.exists(path, watch=lambda _event, event=gone: event.set())
        except (KazooException, KazooTimeoutError):
            stopped.wait(_RETRY_BACKOFF_S[-1])
            continue
        if stat is None:
            continue  # it went between our create and our look
        if stat.ephemeralOwner == zk.client_id[0]:
            logger.info("broker already registered by this session path=%s", path)
            return True
        now = time.monotonic()
        if waited_since is None:
            waited_since = now
        if now - last_log >= _LOG_EVERY_S:
            last_log = now
            logger.warning(
                "broker id %d is still registered by zookeeper session 0x%x (a previous run of this broker "
                "whose session has not expired yet, or another broker with this id); waiting for it to go "
                "waited_s=%.1f",
                broker.node_id,
                stat.ephemeralOwner,
                now - waited_since,
            )
        while not gone.wait(_POLL_S) and not stopped.is_set():
            try:
                current = zk.exists(path)
            except (KazooException, KazooTimeoutError):
                break
            if current is None or current.ephemeralOwner != stat.ephemeralOwner:
                break
    return False
