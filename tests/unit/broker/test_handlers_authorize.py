"""Every handler asks the authorizer (ctx.authorize, or a helper of broker/authorization.py or
handlers/acl_common.py that does), except the APIs Kafka lets anyone call."""

import inspect

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY

handlers.load_all()

OPEN_TO_ANYONE = {17, 18, 36}  # SaslHandshake, ApiVersions, SaslAuthenticate (before a principal exists)
ASKS = ("ctx.authorize(", "authorized_operations(", "refusal(", "split_config_resources(", "_refusals(")


def test_every_handler_authorizes() -> None:
    silent = []
    for api_key, handler in sorted(REGISTRY.items()):
        if api_key in OPEN_TO_ANYONE:
            continue
        source = inspect.getsource(inspect.getmodule(handler.func))  # type: ignore[arg-type]
        if not any(call in source for call in ASKS):
            silent.append(f"{api_key} ({handler.func.__module__})")
    assert silent == [], f"handlers that never ask the authorizer: {silent}"
