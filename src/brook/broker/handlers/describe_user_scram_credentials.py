"""DescribeUserScramCredentials (key 50): each user's SCRAM mechanisms and iterations (never the keys).

A null or empty user list describes every user with credentials; a named user without any gets
RESOURCE_NOT_FOUND, a name asked twice DUPLICATE_RESOURCE (Kafka's answers).
"""

from __future__ import annotations

import asyncio
from typing import Any

from brook.broker.handlers.base import RequestContext, handles
from brook.common.errors import ErrorCode
from brook.protocol.scram import SCRAM_MECHANISMS, ScramCredential
from brook.security.acl import AclOperation, ResourceType


@handles(50, versions=range(0, 1))
async def describe_user_scram_credentials(ctx: RequestContext, req: Any) -> Any:
    if not ctx.authorize(AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return ctx.respond(
            throttle_time=0, error_code=ErrorCode.cluster_authorization_failed, error_message=None, results=[]
        )
    loop = asyncio.get_running_loop()
    stored = await loop.run_in_executor(ctx.broker.metadata_executor, ctx.broker.metadata.scram_credentials)
    asked = [u.name for u in req.users] if req.users else sorted(stored)
    results = []
    for user in dict.fromkeys(asked):
        if asked.count(user) > 1:
            results.append(
                _error(
                    user,
                    ErrorCode.duplicate_resource,
                    f"Cannot describe SCRAM credentials for the same user twice in a single request: {user}",
                )
            )
        elif user not in stored:
            results.append(
                _error(
                    user,
                    ErrorCode.resource_not_found,
                    f"Attempt to describe a user credential that does not exist: {user}",
                )
            )
        else:
            infos = [
                {
                    "mechanism": SCRAM_MECHANISMS[m][1],
                    "iterations": ScramCredential.from_kafka(text).iterations,
                }
                for m, text in sorted(stored[user].items())
                if m in SCRAM_MECHANISMS
            ]
            results.append(
                {"user": user, "error_code": ErrorCode.none, "error_message": None, "credential_infos": infos}
            )
    return await ctx.respond_async(
        throttle_time=0, error_code=ErrorCode.none, error_message=None, results=results
    )


def _error(user: str, code: ErrorCode, message: str) -> dict[str, Any]:
    return {"user": user, "error_code": code, "error_message": message, "credential_infos": []}
