"""ACLs in ZooKeeper, in Kafka's layout (kafka.zk.ZkData: ZkAclStore, ZkAclChangeStore), as pure functions.

    /kafka-acl/<ResourceType>/<name>                       literal patterns
    /kafka-acl-extended/prefixed/<ResourceType>/<name>     prefixed patterns
        {"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}
    /kafka-acl-changes/acl_changes_<seq>                   "TOPIC:<name>" (a literal pattern changed)
    /kafka-acl-extended-changes/acl_changes_<seq>          {"version":1,"resourceType":"TOPIC","name":..,
                                                            "patternType":"PREFIXED"}

`<ResourceType>` is Kafka's display name (Topic, Group, Cluster, TransactionalId, DelegationToken, User);
operations and permissions are spelled as kafka-acls.sh prints them (Read, DescribeConfigs, Allow). A change
node names the resource whose ACL node changed; every broker re-reads that node. Names are stored as they
are (Kafka refuses '/' in an ACL's resource name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from brook.security.acl import (
    AccessControlEntry,
    AclOperation,
    PatternType,
    PermissionType,
    ResourcePattern,
    ResourceType,
    kafka_name,
    parse_name,
)

__all__ = [
    "ACL_ROOTS",
    "CHANGE_PREFIX",
    "EXTENDED_CHANGES_PATH",
    "LITERAL_CHANGES_PATH",
    "change_node",
    "decode_change",
    "decode_entries",
    "encode_entries",
    "pattern_from_path",
    "resource_path",
    "type_path",
]

LITERAL_ROOT = "/kafka-acl"
PREFIXED_ROOT = "/kafka-acl-extended/prefixed"
ACL_ROOTS = {PatternType.LITERAL: LITERAL_ROOT, PatternType.PREFIXED: PREFIXED_ROOT}
LITERAL_CHANGES_PATH = "/kafka-acl-changes"
EXTENDED_CHANGES_PATH = "/kafka-acl-extended-changes"
CHANGE_PREFIX = "acl_changes_"


def type_path(pattern_type: PatternType, resource_type: ResourceType) -> str:
    return f"{ACL_ROOTS[pattern_type]}/{kafka_name(resource_type)}"


def resource_path(pattern: ResourcePattern) -> str:
    return f"{type_path(pattern.pattern_type, pattern.resource_type)}/{pattern.name}"


def pattern_from_path(pattern_type: PatternType, type_node: str, name: str) -> ResourcePattern:
    return ResourcePattern(parse_name(ResourceType, type_node), name, pattern_type)


def encode_entries(entries: Iterable[AccessControlEntry]) -> bytes:
    acls = [
        {
            "principal": e.principal,
            "permissionType": kafka_name(e.permission_type),
            "operation": kafka_name(e.operation),
            "host": e.host,
        }
        for e in sorted(entries)
    ]
    return json.dumps({"version": 1, "acls": acls}, separators=(",", ":")).encode()


def decode_entries(data: bytes | None) -> frozenset[AccessControlEntry]:
    """The entries of one resource node; ValueError when the document is not Kafka's."""
    if not data:
        return frozenset()
    doc: Any = json.loads(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("acls"), list):
        raise ValueError(f"not an ACL document: {data[:200]!r}")
    return frozenset(
        AccessControlEntry(
            principal=str(acl["principal"]),
            host=str(acl["host"]),
            operation=parse_name(AclOperation, str(acl["operation"])),
            permission_type=parse_name(PermissionType, str(acl["permissionType"])),
        )
        for acl in doc["acls"]
    )


def change_node(pattern: ResourcePattern) -> tuple[str, bytes]:
    """(sequential node path prefix, data) of the notification that `pattern`'s node changed."""
    if pattern.pattern_type is PatternType.LITERAL:
        data = f"{pattern.resource_type.name}:{pattern.name}".encode()
        return f"{LITERAL_CHANGES_PATH}/{CHANGE_PREFIX}", data
    event = {
        "version": 1,
        "resourceType": pattern.resource_type.name,
        "name": pattern.name,
        "patternType": pattern.pattern_type.name,
    }
    return f"{EXTENDED_CHANGES_PATH}/{CHANGE_PREFIX}", json.dumps(event, separators=(",", ":")).encode()


def decode_change(changes_path: str, data: bytes) -> ResourcePattern:
    """The pattern a change node names; ValueError when it cannot be read."""
    text = data.decode()
    if changes_path == LITERAL_CHANGES_PATH:
        resource_type, sep, name = text.partition(":")
        if not sep:
            raise ValueError(f"expected ResourceType:ResourceName, got {text!r}")
        return ResourcePattern(parse_name(ResourceType, resource_type), name, PatternType.LITERAL)
    event: Any = json.loads(text)
    if not isinstance(event, dict) or int(event.get("version", 0)) > 1:
        raise ValueError(f"unsupported ACL change event {text!r}")
    return ResourcePattern(
        parse_name(ResourceType, str(event["resourceType"])),
        str(event["name"]),
        parse_name(PatternType, str(event["patternType"])),
    )
