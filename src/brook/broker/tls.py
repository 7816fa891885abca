"""TLS contexts from Kafka's `ssl.*` settings (Python's ssl module; keystores read with `cryptography`).

Keystores: `ssl.keystore.type=PEM` with a file (`ssl.keystore.location`: private key and certificate chain)
or the PEM text in the config (`ssl.keystore.certificate.chain` + `ssl.keystore.key`); `PKCS12` files
(`ssl.keystore.password`). The private key may be encrypted with `ssl.key.password`. Truststores: `PEM`
(`ssl.truststore.location` or `ssl.truststore.certificates`) or `PKCS12`. Java's `JKS` is refused at
startup, naming the supported types. Every key may be given per listener as
`listener.name.<listener>.ssl.<key>` (looked up first), as in Kafka.

`ssl.cipher.suites` takes OpenSSL names (TLS 1.2; Python cannot restrict TLS 1.3 suites);
`ssl.enabled.protocols` picks the lowest and highest TLS version allowed.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from brook.common.errors import InvalidConfig

__all__ = ["client_context", "coalesce_for_tls", "peer_certificate_dn", "server_context"]

Lookup = Callable[[str], str]  # a config key -> its value ("" when unset)

_SUPPORTED_STORES = ("PEM", "PKCS12")
_VERSIONS = {
    "TLSV1": ssl.TLSVersion.TLSv1,
    "TLSV1.1": ssl.TLSVersion.TLSv1_1,
    "TLSV1.2": ssl.TLSVersion.TLSv1_2,
    "TLSV1.3": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {"none": ssl.CERT_NONE, "requested": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def server_context(get: Lookup) -> ssl.SSLContext:
    """The context of an SSL or SASL_SSL listener; an InvalidConfig for anything it cannot use."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_common(context, get)
    if not _load_keystore(context, get):
        raise InvalidConfig(
            "an SSL listener needs a keystore: set ssl.keystore.location (ssl.keystore.type PEM or PKCS12) or "
            "ssl.keystore.certificate.chain and ssl.keystore.key (ssl.keystore.type=PEM)"
        )
    client_auth = (get("ssl.client.auth") or "none").lower()
    if client_auth not in _CLIENT_AUTH:
        raise InvalidConfig(
            f"Invalid value {client_auth} for configuration ssl.client.auth: none, requested, required"
        )
    context.verify_mode = _CLIENT_AUTH[client_auth]
    trusted = _load_truststore(context, get)
    if client_auth != "none" and not trusted:
        raise InvalidConfig(f"ssl.client.auth={client_auth} needs a truststore to verify client certificates")
    return context


def client_context(get: Lookup) -> ssl.SSLContext:
    """brook as a TLS client (inter-broker, brook's own tools): trusts the truststore (else the system's),
    checks the host name when `ssl.endpoint.identification.algorithm=https`, offers the keystore if set."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _apply_common(context, get)
    if not _load_truststore(context, get):
        context.load_default_certs()
    context.check_hostname = get("ssl.endpoint.identification.algorithm").lower() == "https"
    context.verify_mode = ssl.CERT_REQUIRED
    _load_keystore(context, get)
    return context


def peer_certificate_dn(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The client certificate's subject as Java's X500Principal.getName() writes it (RFC 2253: CN first)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def _apply_common(context: ssl.SSLContext, get: Lookup) -> None:
    enabled = [
        v.strip().upper() for v in (get("ssl.enabled.protocols") or "TLSv1.2,TLSv1.3").split(",") if v.strip()
    ]
    unknown = [v for v in enabled if v not in _VERSIONS]
    if unknown or not enabled:
        raise InvalidConfig(
            f"Invalid value {get('ssl.enabled.protocols')} for configuration ssl.enabled.protocols: "
            f"supported: TLSv1.2, TLSv1.3 (and the deprecated TLSv1, TLSv1.1)"
        )
    versions = sorted(_VERSIONS[v] for v in enabled)
    context.minimum_version = versions[0]
    context.maximum_version = versions[-1]
    suites = get("ssl.cipher.suites")
    if suites:
        try:
            context.set_ciphers(":".join(s.strip() for s in suites.split(",") if s.strip()))
        except ssl.SSLError as exc:
            raise InvalidConfig(
                f"Invalid value {suites} for configuration ssl.cipher.suites: no usable cipher ({exc}); "
                "use OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256"
            ) from exc


def _store_type(get: Lookup, key: str) -> str:
    store_type = (get(key) or "JKS").upper()
    if store_type not in _SUPPORTED_STORES:
        raise InvalidConfig(
            f"Invalid value {store_type} for configuration {key}: brook reads {' and '.join(_SUPPORTED_STORES)} "
            "stores (convert a JKS store with keytool -importkeystore -deststoretype PKCS12)"
        )
    return store_type


def _load_keystore(context: ssl.SSLContext, get: Lookup) -> bool:
    location, chain, key = (
        get("ssl.keystore.location"),
        get("ssl.keystore.certificate.chain"),
        get("ssl.keystore.key"),
    )
    key_password = get("ssl.key.password") or None
    if not location and not (chain and key):
        return False
    store_type = _store_type(get, "ssl.keystore.type")
    try:
        if store_type == "PEM" and chain and key:
            with _private_files(chain.encode(), key.encode()) as (chain_file, key_file):
                context.load_cert_chain(chain_file, key_file, password=key_password)
        elif store_type == "PEM":
            context.load_cert_chain(location, location, password=key_password)
        else:
            chain_pem, key_pem = _pkcs12_pem(Path(location).read_bytes(), get("ssl.keystore.password"))
            with _private_files(chain_pem, key_pem) as (chain_file, key_file):
                context.load_cert_chain(chain_file, key_file)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise InvalidConfig(f"cannot load the keystore {location or '(ssl.keystore.key)'}: {exc}") from exc
    return True


def _load_truststore(context: ssl.SSLContext, get: Lookup) -> bool:
    location, certificates = get("ssl.truststore.location"), get("ssl.truststore.certificates")
    if not location and not certificates:
        return False
    store_type = _store_type(get, "ssl.truststore.type")
    try:
        if certificates:
            context.load_verify_locations(cadata=certificates)
        elif store_type == "PEM":
            context.load_verify_locations(cafile=location)
        else:
            from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

            password = get("ssl.truststore.password")
            store = pkcs12.load_pkcs12(Path(location).read_bytes(), password.encode() if password else None)
            pems = [c.certificate.public_bytes(Encoding.PEM).decode() for c in store.additional_certs]
            if store.cert is not None:
                pems.append(store.cert.certificate.public_bytes(Encoding.PEM).decode())
            context.load_verify_locations(cadata="".join(pems))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise InvalidConfig(
            f"cannot load the truststore {location or '(ssl.truststore.certificates)'}: {exc}"
        ) from exc
    return True


def _pkcs12_pem(data: bytes, password: str) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        pkcs12,
    )

    key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    if key is None or cert is None:
        raise ValueError("the PKCS12 keystore holds no private key with its certificate")
    chain = b"".join(c.public_bytes(Encoding.PEM) for c in [cert, *extra])
    return chain, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


@contextlib.contextmanager
def _private_files(chain: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """ssl loads keys from files only: a directory only this user can read, removed right after loading."""
    with tempfile.TemporaryDirectory(prefix="brook-tls-") as directory:
        os.chmod(directory, 0o700)
        chain_file, key_file = os.path.join(directory, "chain.pem"), os.path.join(directory, "key.pem")
        for path, data in ((chain_file, chain), (key_file, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        yield chain_file, key_file


TLS_RECORD_BYTES = 16384  # the largest TLS record's plaintext


def coalesce_for_tls(chunks: list[bytes]) -> list[bytes]:
    """A response's chunks for an SSL transport, which encrypts each item of a writelines list on its own
    (at least one TLS record each): runs of chunks smaller than a record are joined, so a response header or
    a small partition does not become a record of its own, while big chunks (a fetch's file bytes) pass as
    they are, never copied into one response-sized buffer."""
    out: list[bytes] = []
    run: list[bytes] = []
    for chunk in chunks:
        if len(chunk) < TLS_RECORD_BYTES:
            run.append(chunk)
            continue
        if run:
            out.append(run[0] if len(run) == 1 else b"".join(run))
            run = []
        out.append(chunk)
    if run:
        out.append(run[0] if len(run) == 1 else b"".join(run))
    return out
