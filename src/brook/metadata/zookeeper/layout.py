"""Kafka's znode layout and the JSON documents brook reads and writes there.

Kafka's layout, so Kafka habits and tools (zkCli, zookeeper-shell) carry over (all JSON unless noted):
    /cluster/id                                  {"version": "1", "id": "<22-char base64 uuid>"}
    /controller_epoch                            "<n>" (plain integer), bumped by each newly elected controller
    /controller                       ephemeral  {"version": 1, "brokerid": n, "timestamp": "<ms>"}
    /brokers/ids/<id>                 ephemeral  {"version": 5, "host", "port", "endpoints": ["PLAINTEXT://h:p"],
                                                  "listener_security_protocol_map", "jmx_port", "rack"?, "timestamp"}
    /brokers/topics/<topic>                      {"version": 2, "partitions": {"0": [replicas]}, "topic_id": "<b64>",
                                                  "adding_replicas": {}, "removing_replicas": {}}
    /brokers/topics/<topic>/partitions/<p>/state {"version": 1, "controller_epoch", "leader", "leader_epoch", "isr"}
    /admin/delete_topics/<topic>                 empty: a deletion the controller has yet to complete
    /config/topics/<topic>                       {"version": 1, "config": {k: v}}
    /config/brokers/<default>                    {"version": 1, "config": {k: v}}
    /config/brokers/<id>                         {"version": 1, "config": {k: v}}  (one broker's own)
    /latest_producer_id_block                    {"version": 1, "broker": n, "block_start": "<first>",
                                                  "block_end": "<last, inclusive>"}
Internal topics are recognised by name, as Kafka does.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any, cast

from kazoo.exceptions import NoNodeError

from brook.metadata.api import BrokerInfo, Endpoint, PartitionState

__all__ = [
    "BROKER_CONFIGS_PATH",
    "BROKER_IDS_PATH",
    "CLUSTER_ID_PATH",
    "CONTROLLER_EPOCH_PATH",
    "CONTROLLER_PATH",
    "DEFAULT_BROKER_CONFIG_PATH",
    "DELETE_TOPICS_PATH",
    "INTERNAL_TOPICS",
    "PRODUCER_ID_BLOCK_PATH",
    "TOPICS_PATH",
    "TOPIC_CONFIGS_PATH",
    "broker_config_path",
    "broker_path",
    "decode_topic_id",
    "dumps",
    "encode_topic_id",
    "loads",
    "parse_broker",
    "parse_partition_state",
    "partition_state_doc",
    "partition_state_path",
    "reassigning",
    "registration_doc",
    "set_reassigning",
    "topic_config_path",
    "topic_doc",
    "topic_path",
]

CLUSTER_ID_PATH = "/cluster/id"
CONTROLLER_PATH = "/controller"
CONTROLLER_EPOCH_PATH = "/controller_epoch"
BROKER_IDS_PATH = "/brokers/ids"
TOPICS_PATH = "/brokers/topics"
DELETE_TOPICS_PATH = "/admin/delete_topics"
TOPIC_CONFIGS_PATH = "/config/topics"
BROKER_CONFIGS_PATH = "/config/brokers"
DEFAULT_BROKER_CONFIG_PATH = "/config/brokers/<default>"
PRODUCER_ID_BLOCK_PATH = "/latest_producer_id_block"
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


def broker_config_path(node_id: int | None) -> str:
    """A broker's dynamic configs (None: the cluster default, /config/brokers/<default>)."""
    return DEFAULT_BROKER_CONFIG_PATH if node_id is None else f"{BROKER_CONFIGS_PATH}/{node_id}"


def broker_path(node_id: int) -> str:
    return f"{BROKER_IDS_PATH}/{node_id}"


def topic_path(name: str) -> str:
    return f"{TOPICS_PATH}/{name}"


def topic_config_path(name: str) -> str:
    return f"{TOPIC_CONFIGS_PATH}/{name}"


def partition_state_path(name: str, partition: int) -> str:
    return f"{TOPICS_PATH}/{name}/partitions/{partition}/state"


def encode_topic_id(topic_id: uuid.UUID) -> str:
    """Kafka's Uuid.toString: URL-safe base64 of the 16 bytes, without padding."""
    return base64.urlsafe_b64encode(topic_id.bytes).decode().rstrip("=")


def decode_topic_id(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def dumps(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def get_if_exists(zk: Any, path: str) -> tuple[bytes | None, Any]:
    """A znode's (data, stat), or (None, None) when there is no such node."""
    try:
        return zk.get(path)  # type: ignore[no-any-return]
    except NoNodeError:
        return None, None


def loads(data: bytes | None) -> dict[str, Any] | None:
    if not data:
        return None
    doc = json.loads(data)
    return cast("dict[str, Any]", doc) if isinstance(doc, dict) else None


def registration_doc(broker: BrokerInfo, now_ms: int) -> dict[str, Any]:
    """/brokers/ids/<id>, version 5 as Kafka writes it."""
    endpoints = broker.endpoints or (Endpoint("PLAINTEXT", broker.host, broker.port, "PLAINTEXT"),)
    # host/port: the PLAINTEXT endpoint's, as Kafka writes them for old clients (none: null, -1)
    plaintext = next((e for e in endpoints if e.security_protocol == "PLAINTEXT"), None)
    doc: dict[str, Any] = {
        "features": {},
        "listener_security_protocol_map": {e.listener_name: e.security_protocol for e in endpoints},
        "endpoints": [f"{e.listener_name}://{_host_text(e.host)}:{e.port}" for e in endpoints],
        "jmx_port": -1,
        "host": plaintext.host if plaintext else None,
        "port": plaintext.port if plaintext else -1,
        "timestamp": str(now_ms),
        "version": 5,
    }
    if broker.rack is not None:
        doc["rack"] = broker.rack
    return doc


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def parse_broker(node_id: int, data: bytes | None, listener_name: str = "PLAINTEXT") -> BrokerInfo | None:
    """A registration (any version Kafka wrote); host/port are those of `listener_name` (the reader's
    inter-broker listener) when the broker has it."""
    doc = loads(data)
    if doc is None:
        return None
    protocols = doc.get("listener_security_protocol_map") or {}
    endpoints = []
    for text in doc.get("endpoints") or []:
        name, _, address = str(text).partition("://")
        address_host, _, address_port = address.rpartition(":")
        endpoints.append(
            Endpoint(name, address_host.strip("[]"), int(address_port), str(protocols.get(name, name)))
        )
    default = next((e for e in endpoints if e.listener_name == listener_name), None)
    host: str
    port: int
    if default is not None:
        host, port = default.host, default.port
    elif doc.get("host") is not None:
        host, port = str(doc["host"]), int(doc["port"])
    elif endpoints:
        host, port = endpoints[0].host, endpoints[0].port
    else:
        return None
    if endpoints == [Endpoint("PLAINTEXT", host, port, "PLAINTEXT")]:
        endpoints = []  # one PLAINTEXT listener: BrokerInfo's short form (host/port only)
    return BrokerInfo(node_id, host, port, doc.get("rack"), tuple(endpoints))


def topic_doc(topic_id: uuid.UUID, assignment: Mapping[int, tuple[int, ...]]) -> dict[str, Any]:
    return {
        "version": 2,
        "partitions": {str(p): list(r) for p, r in sorted(assignment.items())},
        "topic_id": encode_topic_id(topic_id),
        "adding_replicas": {},
        "removing_replicas": {},
    }


def partition_state_doc(leader: int, leader_epoch: int, isr: tuple[int, ...], controller_epoch: int) -> bytes:
    return dumps(
        {
            "controller_epoch": controller_epoch,
            "leader": leader,
            "version": 1,
            "leader_epoch": leader_epoch,
            "isr": list(isr),
        }
    )


def parse_partition_state(
    partition: int, replicas: tuple[int, ...], data: bytes | None, topic: Mapping[str, Any] | None = None
) -> PartitionState:
    """No state znode yet (a Kafka controller writes it after the assignment): no leader. `topic`: the topic
    znode's document, for the partition's reassignment in progress (its adding and removing replicas)."""
    adding, removing = reassigning(topic or {}, partition)
    state = loads(data)
    if state is None:
        return PartitionState(partition, replicas, -1, -1, (), adding, removing)
    return PartitionState(
        partition,
        replicas,
        int(state["leader"]),
        int(state["leader_epoch"]),
        tuple(state["isr"]),
        adding,
        removing,
    )


def reassigning(topic: Mapping[str, Any], partition: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(adding, removing) replicas of `partition` in a topic znode document; both empty when not moving."""
    key = str(partition)
    adding = (topic.get("adding_replicas") or {}).get(key) or ()
    removing = (topic.get("removing_replicas") or {}).get(key) or ()
    return tuple(int(r) for r in adding), tuple(int(r) for r in removing)


def set_reassigning(
    topic: dict[str, Any],
    partition: int,
    replicas: tuple[int, ...],
    adding: tuple[int, ...],
    removing: tuple[int, ...],
) -> None:
    """Write one partition's replicas and reassignment into a topic znode document (in place), as Kafka does:
    a partition without a reassignment has no entry in "adding_replicas" / "removing_replicas"."""
    key = str(partition)
    topic["partitions"][key] = list(replicas)
    for field_name, value in (("adding_replicas", adding), ("removing_replicas", removing)):
        entries = dict(topic.get(field_name) or {})
        if value:
            entries[key] = list(value)
        else:
            entries.pop(key, None)
        topic[field_name] = entries
