"""ApiVersions (key 18): the API ranges brook handles, computed from the handler registry."""

from typing import Any

from brook.broker.handlers.base import REGISTRY, RequestContext, handles
from brook.common.errors import ErrorCode
from brook.protocol import codec


def supported_api_keys() -> list[dict[str, int]]:
    return [
        {"api_key": h.api_key, "min_version": h.versions.start, "max_version": h.versions.stop - 1}
        for h in sorted(REGISTRY.values(), key=lambda h: h.api_key)
    ]


@handles(18, versions=range(0, 4))
async def api_versions(ctx: RequestContext, req: Any) -> Any:
    if ctx.request.unsupported_version:
        # KIP-511: answer a version we do not know in the v0 layout, with the list, so the client can retry.
        body = codec.build(
            codec.response_class(18, 0),
            {"error_code": ErrorCode.unsupported_version, "api_keys": supported_api_keys()},
        )
        return codec.encode_body(body)
    return ctx.respond(error_code=ErrorCode.none, api_keys=supported_api_keys(), throttle_time=0)
