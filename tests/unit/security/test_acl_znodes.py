"""Kafka's ZooKeeper ACL layout (security/acl_znodes.py), the ACL checks and the file store + authorizer."""

import json
from pathlib import Path

import pytest

from brook.security.acl import (
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    InvalidAcl,
    PatternType,
    PermissionType,
    ResourcePattern,
    ResourceType,
    check_new_binding,
)
from brook.security.acl_decisions import AuthorizerSettings, Caller
from brook.security.acl_store import FileAclStore
from brook.security.acl_znodes import (
    change_node,
    decode_change,
    decode_entries,
    encode_entries,
    resource_path,
)
from brook.security.authorizer import AclAuthorizer, authorizer_selected

READ_ALL = AccessControlEntry("User:alice", "*", AclOperation.READ, PermissionType.ALLOW)


def test_paths_follow_kafkas_layout() -> None:
    assert (
        resource_path(ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL))
        == "/kafka-acl/Topic/orders"
    )
    assert (
        resource_path(ResourcePattern(ResourceType.TRANSACTIONAL_ID, "tx-", PatternType.PREFIXED))
        == "/kafka-acl-extended/prefixed/TransactionalId/tx-"
    )


def test_entries_are_kafkas_json_and_read_back() -> None:
    entries = {
        READ_ALL,
        AccessControlEntry("User:bob", "10.0.0.1", AclOperation.DESCRIBE_CONFIGS, PermissionType.DENY),
    }
    doc = json.loads(encode_entries(entries))
    assert doc["version"] == 1
    assert {
        "principal": "User:bob",
        "permissionType": "Deny",
        "operation": "DescribeConfigs",
        "host": "10.0.0.1",
    } in doc["acls"]
    assert decode_entries(encode_entries(entries)) == entries
    # as Kafka writes it (spacing and key order differ)
    kafka = b'{"version": 1, "acls": [ { "host":"*", "permissionType": "Allow","operation": "Read","principal": "User:alice"}]}'
    assert decode_entries(kafka) == {READ_ALL}


def test_change_nodes_name_the_pattern() -> None:
    literal = ResourcePattern(ResourceType.GROUP, "g1", PatternType.LITERAL)
    path, data = change_node(literal)
    assert (path, data) == ("/kafka-acl-changes/acl_changes_", b"GROUP:g1")
    assert decode_change("/kafka-acl-changes", data) == literal
    assert decode_change("/kafka-acl-changes", b"Topic:a:b") == ResourcePattern(
        ResourceType.TOPIC, "a:b", PatternType.LITERAL
    )
    prefixed = ResourcePattern(ResourceType.TOPIC, "team-", PatternType.PREFIXED)
    path, data = change_node(prefixed)
    assert path == "/kafka-acl-extended-changes/acl_changes_"
    assert json.loads(data) == {
        "version": 1,
        "resourceType": "TOPIC",
        "name": "team-",
        "patternType": "PREFIXED",
    }
    assert decode_change("/kafka-acl-extended-changes", data) == prefixed


@pytest.mark.parametrize(
    ("pattern", "entry"),
    [
        (ResourcePattern(ResourceType.ANY, "x", PatternType.LITERAL), READ_ALL),
        (ResourcePattern(ResourceType.TOPIC, "x", PatternType.MATCH), READ_ALL),
        (ResourcePattern(ResourceType.TOPIC, "", PatternType.LITERAL), READ_ALL),
        (ResourcePattern(ResourceType.GROUP, "a/b", PatternType.LITERAL), READ_ALL),
        (ResourcePattern(ResourceType.CLUSTER, "other", PatternType.LITERAL), READ_ALL),
        (
            ResourcePattern(ResourceType.TOPIC, "x", PatternType.LITERAL),
            AccessControlEntry("alice", "*", AclOperation.READ, PermissionType.ALLOW),
        ),
        (
            ResourcePattern(ResourceType.TOPIC, "x", PatternType.LITERAL),
            AccessControlEntry("User:alice", "*", AclOperation.ANY, PermissionType.ALLOW),
        ),
        (
            ResourcePattern(ResourceType.TOPIC, "x", PatternType.LITERAL),
            AccessControlEntry("User:alice", "*", AclOperation.READ, PermissionType.ANY),
        ),
    ],
)
def test_bindings_kafka_refuses_to_create(pattern: ResourcePattern, entry: AccessControlEntry) -> None:
    with pytest.raises(InvalidAcl):
        check_new_binding(AclBinding(pattern, entry))


def test_authorizer_class_names() -> None:
    assert not authorizer_selected("")
    assert authorizer_selected("kafka.security.authorizer.AclAuthorizer")
    assert authorizer_selected("org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    with pytest.raises(ValueError, match="not available"):
        authorizer_selected("com.example.MyAuthorizer")


def test_file_store_keeps_acls_across_restarts_and_delete_reports_what_it_removed(tmp_path: Path) -> None:
    orders = ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL)
    team = ResourcePattern(ResourceType.TOPIC, "team-", PatternType.PREFIXED)
    write = AccessControlEntry("User:bob", "*", AclOperation.WRITE, PermissionType.ALLOW)
    authorizer = AclAuthorizer(AuthorizerSettings(), FileAclStore(tmp_path))
    authorizer.start()
    results = authorizer.create(
        [AclBinding(orders, READ_ALL), AclBinding(team, write), AclBinding(orders, READ_ALL)]
    )
    assert results == [None, None, None]
    alice = Caller("User:alice", "127.0.0.1")
    assert authorizer.authorize(alice, AclOperation.READ, ResourceType.TOPIC, "orders")

    again = AclAuthorizer(AuthorizerSettings(), FileAclStore(tmp_path))
    again.start()
    assert again.describe(AclBindingFilter()) == [AclBinding(orders, READ_ALL), AclBinding(team, write)]
    deleted = again.delete([AclBindingFilter(principal="User:bob"), AclBindingFilter(name="nothing")])
    assert deleted == [[AclBinding(team, write)], []]
    assert again.describe(AclBindingFilter()) == [AclBinding(orders, READ_ALL)]
    assert not again.authorize(Caller("User:bob", "h"), AclOperation.WRITE, ResourceType.TOPIC, "team-x")
