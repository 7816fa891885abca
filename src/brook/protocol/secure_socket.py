"""brook's own blocking sockets to a listener (the CLI's raw requests, the console's DescribeLogDirs), secured
from the same client properties librdkafka takes (`-X`, `--command-config`): `security.protocol` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), `ssl.ca.location`,
`ssl.certificate.location` + `ssl.key.location` (+ `ssl.key.password`), `ssl.endpoint.identification.algorithm`
(https by default: the host name is checked), `sasl.mechanism` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
`sasl.username`, `sasl.password`. Blocking; authenticated with SaslHandshake v1 + SaslAuthenticate v2.
Plain sockets and the standard library's ssl only: no event loop here (callers run it in a thread).
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Mapping
from typing import Any

from brook.protocol.client import decode_response, encode_request
from brook.protocol.sasl import SaslFailure, plain_token
from brook.protocol.scram import ScramClient

__all__ = ["call", "connect", "read_exactly", "round_trip"]

_HANDSHAKE, _AUTHENTICATE = 17, 36


def connect(
    address: tuple[str, int], timeout_s: float, config: Mapping[str, str], client_id: str = "brook-cli"
) -> socket.socket:
    """A connected (TLS-wrapped, SASL-authenticated as configured) socket; OSError when that fails."""
    protocol = config.get("security.protocol", "PLAINTEXT").upper()
    sock = socket.create_connection(address, timeout=timeout_s)
    try:
        if protocol in ("SSL", "SASL_SSL"):
            sock = _tls_context(config).wrap_socket(sock, server_hostname=address[0])
        if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
            _authenticate(sock, config, client_id)
    except BaseException:
        sock.close()
        raise
    return sock


def _tls_context(config: Mapping[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.get("ssl.ca.location") or None)
    context.check_hostname = config.get("ssl.endpoint.identification.algorithm", "https").lower() == "https"
    certificate = config.get("ssl.certificate.location")
    if certificate:
        context.load_cert_chain(
            certificate, config.get("ssl.key.location") or None, config.get("ssl.key.password") or None
        )
    return context


def _authenticate(sock: socket.socket, config: Mapping[str, str], client_id: str) -> None:
    mechanism = config.get("sasl.mechanism", config.get("sasl.mechanisms", "PLAIN")).upper()
    user, password = config.get("sasl.username", ""), config.get("sasl.password", "")
    handshake = call(sock, _HANDSHAKE, 1, {"mechanism": mechanism}, client_id)
    if handshake.error_code != 0:
        raise OSError(
            f"the broker does not accept SASL {mechanism} (it offers {', '.join(handshake.mechanisms)})"
        )
    if mechanism == "PLAIN":
        _token(sock, plain_token(user, password), client_id)
        return
    scram = ScramClient(mechanism, user, password)
    server_first = _token(sock, scram.first(), client_id)
    try:  # a malformed server-first or an iteration count outside 4096-16384 is refused (scram.py)
        server_final = _token(sock, scram.final(server_first), client_id)
        scram.verify(server_final)
    except SaslFailure as exc:
        raise OSError(str(exc)) from exc


def _token(sock: socket.socket, token: bytes, client_id: str) -> bytes:
    response = call(sock, _AUTHENTICATE, 2, {"auth_bytes": token}, client_id)
    if response.error_code != 0:
        raise OSError(f"SASL authentication failed: {response.error_message}")
    return bytes(response.auth_bytes)


def call(
    sock: socket.socket,
    api_key: int,
    version: int,
    body: dict[str, Any],
    client_id: str,
    correlation_id: int = 0,
) -> Any:
    """One request and its decoded response on a connected socket."""
    sock.sendall(encode_request(api_key, version, correlation_id, client_id, body))
    (size,) = struct.unpack(">i", read_exactly(sock, 4))
    return decode_response(api_key, version, read_exactly(sock, size))[1]


def round_trip(sock: socket.socket, api_key: int, version: int, body: Mapping[str, Any]) -> bytes:
    """Send one request (correlation id 1) and return the response frame (after its size)."""
    sock.sendall(encode_request(api_key, version, 1, "brook-cli", body))
    (size,) = struct.unpack(">i", read_exactly(sock, 4))
    return read_exactly(sock, size)


def read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
