"""Authorization in the broker: which authorizer `authorizer.class.name` selects, and its errors.

Kafka's default (empty) authorizes nothing: every request is allowed and the ACL APIs answer
SECURITY_DISABLED. Kafka's AclAuthorizer and StandardAuthorizer names select brook's AclAuthorizer
(security/authorizer.py), its ACLs kept in ZooKeeper on a cluster and in the data dir on a single node.
Handlers ask through `RequestContext.authorize` (handlers/base.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brook.broker.config import BrokerConfig
from brook.common.errors import BrookError, ErrorCode
from brook.metadata.api import MetadataStore
from brook.metadata.zookeeper import ZooKeeperMetadataStore
from brook.security.acl import AclOperation, ResourceType
from brook.security.acl_decisions import AuthorizerSettings, parse_super_users
from brook.security.acl_store import AclStore, FileAclStore, ZooKeeperAclStore
from brook.security.authorizer import AclAuthorizer, authorizer_selected

if TYPE_CHECKING:
    from brook.broker.handlers.base import RequestContext

__all__ = [
    "ClusterAuthorizationFailed",
    "GroupAuthorizationFailed",
    "SecurityDisabled",
    "TopicAuthorizationFailed",
    "TransactionalIdAuthorizationFailed",
    "build_authorizer",
    "config_refusal",
    "split_config_resources",
]


class TopicAuthorizationFailed(BrookError):
    error_code = ErrorCode.topic_authorization_failed


class GroupAuthorizationFailed(BrookError):
    error_code = ErrorCode.group_authorization_failed


class ClusterAuthorizationFailed(BrookError):
    error_code = ErrorCode.cluster_authorization_failed


class TransactionalIdAuthorizationFailed(BrookError):
    error_code = ErrorCode.transactional_id_authorization_failed


class SecurityDisabled(BrookError):
    error_code = ErrorCode.security_disabled


def build_authorizer(config: BrokerConfig, metadata: MetadataStore, data_dir: Path) -> AclAuthorizer | None:
    """The authorizer `authorizer.class.name` selects (None: no authorization); not started yet."""
    if not authorizer_selected(config.get("authorizer.class.name")):
        return None
    settings = AuthorizerSettings(
        super_users=parse_super_users(config.get("super.users")),
        allow_everyone_if_no_acl_found=config.bool("allow.everyone.if.no.acl.found"),
    )
    store: AclStore
    if isinstance(metadata, ZooKeeperMetadataStore):
        store = ZooKeeperAclStore(metadata.zk_client)
    else:
        store = FileAclStore(data_dir)
    return AclAuthorizer(settings, store)


_TOPIC_CONFIGS = 2  # ConfigResource types
_BROKER_CONFIGS = (4, 8)  # BROKER, BROKER_LOGGER


def config_refusal(
    ctx: RequestContext, resource_type: int, name: str, operation: AclOperation
) -> BrookError | None:
    """DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic, or on the cluster for broker configs."""
    if resource_type == _TOPIC_CONFIGS and not ctx.authorize(operation, ResourceType.TOPIC, name):
        return TopicAuthorizationFailed()
    if resource_type in _BROKER_CONFIGS and not ctx.authorize(operation, ResourceType.CLUSTER):
        return ClusterAuthorizationFailed()
    return None


def split_config_resources(
    ctx: RequestContext, resources: Iterable[Any], operation: AclOperation
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The resources this principal may change, and the error entries of the others (AlterConfigs answers
    both, the refused ones last, as Kafka)."""
    allowed: list[Any] = []
    refused: list[dict[str, Any]] = []
    for resource in resources:
        error = config_refusal(ctx, resource.resource_type, resource.resource_name, operation)
        if error is None:
            allowed.append(resource)
        else:
            refused.append(
                {
                    "resource_type": resource.resource_type,
                    "resource_name": resource.resource_name,
                    "error_code": error.error_code,
                    "error_message": None,
                }
            )
    return allowed, refused
