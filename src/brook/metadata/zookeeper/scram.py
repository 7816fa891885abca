"""SCRAM credentials in ZooKeeper, in Kafka's layout: the user's entity config node

    /config/users/<sanitized user>   {"version": 1, "config": {"SCRAM-SHA-256": "salt=...,stored_key=...,
                                                              server_key=...,iterations=4096", ...}}

shared with the user's quota configs (client_quotas.py keeps what it does not own). Each change also posts
Kafka's config change notification `/config/changes/config_change_<seq>` {"version": 2,
"entity_path": "users/<user>"}, which keeps every broker's cache (scram_cache.py) current. Plain blocking
functions on a KazooClient.
"""

from __future__ import annotations

import json
from typing import Any

from kazoo.exceptions import NodeExistsError, NoNodeError, NotEmptyError

from brook.metadata.zookeeper.client_quotas import USERS_PATH, entity_path

__all__ = [
    "CHANGES_PATH",
    "SCRAM_PREFIX",
    "read_scram_credential",
    "read_scram_credentials",
    "read_user_scram_credentials",
    "write_scram_credential",
]

SCRAM_PREFIX = "SCRAM-"
CHANGES_PATH = "/config/changes"
_CHANGES_PATH = CHANGES_PATH + "/config_change_"


def _user_config(zk: Any, path: str) -> tuple[dict[str, str], Any]:
    try:
        data, stat = zk.get(path)
    except NoNodeError:
        return {}, None
    doc = json.loads(data) if data else {}
    config = doc.get("config", {}) if isinstance(doc, dict) else {}
    return {str(k): str(v) for k, v in config.items()}, stat


def read_scram_credential(zk: Any, user: str, mechanism: str) -> str | None:
    config, _ = _user_config(zk, f"/config/{entity_path((('user', user),))}")
    return config.get(mechanism)


def read_user_scram_credentials(zk: Any, user: str) -> dict[str, str]:
    """One user's credentials by mechanism ({} for a user without any)."""
    config, _ = _user_config(zk, f"/config/{entity_path((('user', user),))}")
    return {k: v for k, v in config.items() if k.startswith(SCRAM_PREFIX)}


def read_scram_credentials(zk: Any) -> dict[str, dict[str, str]]:
    try:
        nodes = zk.get_children(USERS_PATH)
    except NoNodeError:
        return {}
    from urllib.parse import unquote

    found: dict[str, dict[str, str]] = {}
    for node in nodes:
        config, _ = _user_config(zk, f"{USERS_PATH}/{node}")
        mechanisms = {k: v for k, v in config.items() if k.startswith(SCRAM_PREFIX)}
        if mechanisms:
            found[unquote(node)] = mechanisms
    return found


def write_scram_credential(zk: Any, user: str, mechanism: str, credential: str | None) -> None:
    """Set (or with None remove) one mechanism's credential, keeping the node's other configs."""
    relative = entity_path((("user", user),))
    path = f"/config/{relative}"
    while True:
        config, stat = _user_config(zk, path)
        if credential is None:
            config.pop(mechanism, None)
        else:
            config[mechanism] = credential
        doc = json.dumps({"version": 1, "config": config}).encode()
        try:
            if stat is None:
                zk.create(path, doc, makepath=True)
            elif not config:
                try:
                    zk.delete(path, version=stat.version)
                except NotEmptyError:
                    zk.set(path, doc, version=stat.version)
            else:
                zk.set(path, doc, version=stat.version)
            break
        except (NodeExistsError, NoNodeError):
            continue  # raced with another writer: read again
        except Exception as exc:  # BadVersionError: the same
            if type(exc).__name__ != "BadVersionError":
                raise
    notice = json.dumps({"version": 2, "entity_path": relative}).encode()
    zk.create(_CHANGES_PATH, notice, sequence=True, makepath=True)
