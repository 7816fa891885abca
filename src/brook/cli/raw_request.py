"""One request over a socket of brook's own (TLS and SASL as the client properties say: protocol/secure_socket.py), encoded by brook's own codec: for what confluent-kafka's AdminClient cannot
send (OffsetDelete, DescribeLogDirs, client quotas, the cluster-default broker resource). FindCoordinator first
where the request must reach the group coordinator."""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import CliError, settings
from brook.protocol.client import decode_response
from brook.protocol.secure_socket import connect, round_trip

__all__ = ["bootstrap_address", "call", "call_coordinator", "error_name", "exchange", "exchange_frame"]

_FIND_COORDINATOR, _FIND_COORDINATOR_VERSION = 10, 1
_TIMEOUT_S = 15.0


def bootstrap_address() -> tuple[str, int]:
    """The first bootstrap server, as (host, port)."""
    host, _, port = settings().bootstrap.split(",")[0].strip().rpartition(":")
    return host.strip("[]"), int(port)


def exchange_frame(
    address: tuple[str, int], api_key: int, version: int, body: dict[str, Any], timeout_s: float = _TIMEOUT_S
) -> bytes:
    """Send one request and return the response frame undecoded; OSError when the broker cannot be reached."""
    context = click.get_current_context(silent=True)
    config = settings().client_config if context is not None else {}
    with connect(address, timeout_s, config) as sock:  # TLS and SASL from -X / --command-config
        return round_trip(sock, api_key, version, body)


def exchange(
    address: tuple[str, int], api_key: int, version: int, body: dict[str, Any], timeout_s: float = _TIMEOUT_S
) -> Any:
    """Send one request and return the decoded response; OSError when the broker cannot be reached."""
    return decode_response(api_key, version, exchange_frame(address, api_key, version, body, timeout_s))[1]


def call(address: tuple[str, int], api_key: int, version: int, body: dict[str, Any]) -> Any:
    """`exchange`, with an unreachable broker as a one-line CLI error."""
    try:
        return exchange(address, api_key, version, body)
    except OSError as exc:
        raise CliError(f"cannot reach the broker at {address[0]}:{address[1]}: {exc}") from exc


def call_coordinator(group: str, api_key: int, version: int, body: dict[str, Any]) -> Any:
    """Send to the coordinator of `group` (asked of the bootstrap broker)."""
    found = call(
        bootstrap_address(), _FIND_COORDINATOR, _FIND_COORDINATOR_VERSION, {"key": group, "key_type": 0}
    )
    if int(found.error_code) != 0:
        raise CliError(f"group {group}: {found.error_message or error_name(found.error_code)}")
    return call((found.host, int(found.port)), api_key, version, body)


def error_name(code: Any) -> str:
    """Kafka's name of an error code: GROUP_SUBSCRIBED_TO_TOPIC."""
    name = getattr(code, "name", None)
    return name.upper() if isinstance(name, str) else f"error {int(code)}"
