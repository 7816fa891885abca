"""Client quota configs in ZooKeeper, in Kafka's znode layout (what kafka-configs.sh --zookeeper wrote):

    /config/clients/<client-id>                      {"version": 1, "config": {"producer_byte_rate": "1024"}}
    /config/users/<user>                             {"version": 1, "config": {...}}
    /config/users/<user>/clients/<client-id>         {"version": 1, "config": {...}}

Names are sanitized as Kafka's Sanitizer does (URL-encoded); the default entity is `<default>`. A user
node that only holds client nodes keeps an empty config. Plain functions on a KazooClient, called by
ZooKeeperMetadataStore; every call is a few blocking round trips (run them off the event loop).
Brokers re-read these nodes every second (QuotaManager); brook posts no /config/changes notifications.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from kazoo.exceptions import NoNodeError, NotEmptyError

__all__ = ["entity_path", "read_client_quotas", "write_client_quota"]

CLIENTS_PATH = "/config/clients"
USERS_PATH = "/config/users"
_DEFAULT = "<default>"
Entity = tuple[tuple[str, str | None], ...]


def _sanitize(name: str | None) -> str:
    return _DEFAULT if name is None else quote(name, safe="").replace("~", "%7E")


def _desanitize(node: str) -> str | None:
    return None if node == _DEFAULT else unquote(node)


def entity_path(entity: Entity) -> str:
    """Kafka's entity path under /config: "clients/<id>", "users/<u>" or "users/<u>/clients/<id>"."""
    names = dict(entity)
    if "user" in names:
        path = f"users/{_sanitize(names['user'])}"
        return f"{path}/clients/{_sanitize(names['client-id'])}" if "client-id" in names else path
    return f"clients/{_sanitize(names['client-id'])}"


def _stored_config(zk: Any, path: str) -> dict[str, Any]:
    """The `config` object of a /config/users|clients node ({} when there is none). A user's node holds its
    quotas and its SCRAM credentials (scram.py) side by side."""
    try:
        data, _ = zk.get(path)
    except NoNodeError:
        return {}
    doc = json.loads(data) if data else {}
    config = doc.get("config", {}) if isinstance(doc, dict) else {}
    return config if isinstance(config, dict) else {}


def _config(zk: Any, path: str) -> dict[str, float]:
    config = _stored_config(zk, path)
    return {str(k): float(v) for k, v in config.items() if not str(k).startswith("SCRAM-")}


def _children(zk: Any, path: str) -> list[str]:
    try:
        return list(zk.get_children(path))
    except NoNodeError:
        return []


def read_client_quotas(zk: Any) -> dict[Entity, dict[str, float]]:
    quotas: dict[Entity, dict[str, float]] = {}

    def add(entity: Entity, path: str) -> None:
        values = _config(zk, path)
        if values:
            quotas[entity] = values

    for node in _children(zk, CLIENTS_PATH):
        add((("client-id", _desanitize(node)),), f"{CLIENTS_PATH}/{node}")
    for node in _children(zk, USERS_PATH):
        user = _desanitize(node)
        add((("user", user),), f"{USERS_PATH}/{node}")
        for client in _children(zk, f"{USERS_PATH}/{node}/clients"):
            add((("user", user), ("client-id", _desanitize(client))), f"{USERS_PATH}/{node}/clients/{client}")
    return quotas


def write_client_quota(zk: Any, entity: Entity, values: Mapping[str, float]) -> None:
    """Replace the entity's config (Kafka stores the values as strings)."""
    relative = entity_path(entity)
    path = f"/config/{relative}"
    kept = _scram_entries(zk, path)  # a user's SCRAM credentials stay
    config = {**kept, **{k: _number(v) for k, v in values.items()}}
    doc = json.dumps({"version": 1, "config": config}).encode()
    if config:
        try:
            zk.set(path, doc)
        except NoNodeError:
            zk.create(path, doc, makepath=True)
    else:
        try:
            zk.delete(path)
        except NoNodeError:
            pass
        except NotEmptyError:
            zk.set(path, doc)  # a user node that still holds client nodes keeps an empty config


def _scram_entries(zk: Any, path: str) -> dict[str, str]:
    config = _stored_config(zk, path)
    return {str(k): str(v) for k, v in config.items() if str(k).startswith("SCRAM-")}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
