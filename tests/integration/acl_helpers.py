"""Helpers for the authorization tests: a broker with brook's authorizer and PLAIN users, raw requests as a
SASL user, and ACLs created through the Admin client as the super user."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from brook.testing.security import plain_jaas
from tests.integration.raw_client import RawClient

AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}


def authorizer_overrides(**extra: str) -> dict[str, str]:
    """PLAINTEXT (User:ANONYMOUS) and SASL_PLAINTEXT (PLAIN users admin, alice, bob); admin is a super user."""
    return {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.jaas.config": plain_jaas(USERS),
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
        **extra,
    }


def sasl_raw(bootstrap: str, user: str) -> RawClient:
    """A raw connection authenticated as `user` with SASL/PLAIN (SaslHandshake v1, SaslAuthenticate v2)."""
    raw = RawClient(bootstrap)
    handshake = raw.request(17, 1, {"mechanism": "PLAIN"})
    assert handshake.error_code == 0, handshake
    auth = raw.request(36, 2, {"auth_bytes": f"\0{user}\0{USERS[user]}".encode()})
    assert auth.error_code == 0, auth
    return raw


def client_conf(bootstrap: str, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": USERS[user],
        **extra,
    }


def acl(
    resource_type: ResourceType,
    name: str,
    principal: str,
    operation: AclOperation,
    permission: AclPermissionType = AclPermissionType.ALLOW,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(resource_type, name, pattern, principal, "*", operation, permission)


def create_acls(admin: AdminClient, bindings: list[AclBinding]) -> None:
    for future in admin.create_acls(bindings).values():
        future.result(timeout=30)


def create_topics(admin: AdminClient, names: Iterable[str]) -> None:
    """Topics of one partition, replication factor 1, created through the Admin client."""
    for future in admin.create_topics([NewTopic(name, 1, 1) for name in names]).values():
        future.result(timeout=30)
