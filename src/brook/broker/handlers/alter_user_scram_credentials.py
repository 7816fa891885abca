"""AlterUserScramCredentials (key 51): set or delete users' SCRAM credentials (KIP-554).

The client sends the salt and the salted password (never the password); the broker derives the stored and
server keys and stores them as Kafka does (metadata store: ZooKeeper `/config/users/<user>` on a cluster,
the embedded file on one node). Errors per user, Kafka's codes: UNSUPPORTED_SASL_MECHANISM,
UNACCEPTABLE_CREDENTIAL (empty name, too few/many iterations, empty salt/password), DUPLICATE_RESOURCE (a
user changed twice for one mechanism), RESOURCE_NOT_FOUND (deleting what does not exist).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.protocol.scram import SCRAM_MECHANISMS, ScramCredential, check_iterations
from brook.security.acl import AclOperation, ResourceType

logger = logging.getLogger(__name__)

_BY_TYPE = {number: name for name, (_, number, _) in SCRAM_MECHANISMS.items()}


@handles(51, versions=range(0, 1))
async def alter_user_scram_credentials(ctx: RequestContext, req: Any) -> Any:
    store = ctx.broker.metadata
    loop = asyncio.get_running_loop()
    errors: dict[str, tuple[ErrorCode, str]] = {}
    changes: list[tuple[str, str, str | None]] = []
    seen: dict[tuple[str, int], int] = {}
    if not ctx.authorize(AclOperation.ALTER, ResourceType.CLUSTER):  # every user refused, nothing applied
        for item in [*req.deletions, *req.upsertions]:
            errors.setdefault(
                item.name, (ErrorCode.cluster_authorization_failed, "Cluster authorization failed.")
            )
    for item in [*req.deletions, *req.upsertions]:
        seen[(item.name, item.mechanism)] = seen.get((item.name, item.mechanism), 0) + 1
    for deletion in req.deletions:
        error = _common_error(deletion.name, deletion.mechanism, seen)
        if error is None:
            mechanism = _BY_TYPE[deletion.mechanism]
            current = await loop.run_in_executor(
                ctx.broker.metadata_executor, store.scram_credential, deletion.name, mechanism
            )
            if current is None:
                error = (
                    ErrorCode.resource_not_found,
                    f"Attempt to delete a user credential that does not exist: {deletion.name}",
                )
            else:
                changes.append((deletion.name, mechanism, None))
        if error is not None:
            errors.setdefault(deletion.name, error)
    for upsertion in req.upsertions:
        error = _common_error(upsertion.name, upsertion.mechanism, seen)
        if error is None:
            mechanism = _BY_TYPE[upsertion.mechanism]
            problem = check_iterations(mechanism, upsertion.iterations)
            if problem is None and (not upsertion.salt or not upsertion.salted_password):
                problem = "Empty salt or salted password"
            if problem is not None:
                error = (ErrorCode.unacceptable_credential, problem)
            else:
                credential = ScramCredential.from_salted_password(
                    mechanism, bytes(upsertion.salt), bytes(upsertion.salted_password), upsertion.iterations
                )
                changes.append((upsertion.name, mechanism, credential.to_kafka()))
        if error is not None:
            errors.setdefault(upsertion.name, error)
    for user, mechanism, text in changes:
        if user in errors:
            continue  # Kafka applies nothing for a user with any error
        await loop.run_in_executor(
            ctx.broker.metadata_executor, store.set_scram_credential, user, mechanism, text
        )
        logger.info(
            "SCRAM credential %s user=%s mechanism=%s", "deleted" if text is None else "set", user, mechanism
        )
    users = dict.fromkeys(item.name for item in [*req.deletions, *req.upsertions])
    results = [
        {
            "user": user,
            "error_code": errors.get(user, (ErrorCode.none, None))[0],
            "error_message": errors.get(user, (ErrorCode.none, None))[1],
        }
        for user in users
    ]
    return await ctx.respond_async(throttle_time=0, results=results)


def _common_error(
    name: str, mechanism: int, seen: dict[tuple[str, int], int]
) -> tuple[ErrorCode, str] | None:
    if not name:
        return (ErrorCode.unacceptable_credential, "Username must not be empty")
    if mechanism not in _BY_TYPE:
        return (ErrorCode.unsupported_sasl_mechanism, "Unknown SCRAM mechanism")
    if seen[(name, mechanism)] > 1:
        return (ErrorCode.duplicate_resource, "A user credential cannot be altered twice in the same request")
    return None
