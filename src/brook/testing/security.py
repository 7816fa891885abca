"""Secured brokers for tests (the `secured_kafka_broker` pytest fixture is a SecuredBroker): a throwaway CA with broker and client certificates, and broker settings for
SSL, SASL_PLAINTEXT and SASL_SSL listeners with PLAIN and SCRAM users.

    pki = TestPki(tmp_dir)                      # CA, broker (127.0.0.1/localhost) and client certificates
    overrides = secured_listeners(pki, plain_users={"alice": "alice-secret"})
    with BrookProcess(overrides=overrides) as broker:
        broker.listener_port("SASL_SSL")
        add_scram_user(broker.listener_bootstrap("PLAINTEXT"), "bob", "bob-secret")

Files are PEM (`ca.pem`, `broker.pem` with its key, `client.pem` / `client.key`); a PKCS12 keystore is
written too. Certificates come from the `cryptography` package; nothing is downloaded.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "SecuredBroker",
    "TestPki",
    "add_scram_user",
    "plain_jaas",
    "scram_jaas",
    "secured_cluster_overrides",
    "secured_listeners",
]

_DAY = datetime.timedelta(days=1)


def _name(common_name: str, unit: str = "brook-test") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "brook"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@dataclass
class Issued:
    cert: Path
    key: Path
    dn: str


class TestPki:
    """A CA and certificates signed by it, written under `directory`."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self._ca_name = _name("brook-test-ca")
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(self._ca_name)
            .issuer_name(self._ca_name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + 30 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca = directory / "ca.pem"
        self.ca.write_bytes(self._ca_cert.public_bytes(serialization.Encoding.PEM))
        self.broker = self.issue("broker", server=True)
        self.client = self.issue("client")

    def issue(
        self,
        name: str,
        *,
        server: bool = False,
        expired: bool = False,
        key_password: str | None = None,
        unit: str = "brook-test",
    ) -> Issued:
        """A certificate for `name` (CN); server ones name 127.0.0.1 and localhost. `expired`: valid until
        yesterday. The key file is PEM (PKCS8), encrypted with `key_password` when given; `<name>.pem` holds
        the certificate, `<name>.key` the key, `<name>-keystore.pem` both (ssl.keystore.type=PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start, end = (now - 10 * _DAY, now - _DAY) if expired else (now - _DAY, now + 30 * _DAY)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name, unit))
            .issuer_name(self._ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(self._ca_key, hashes.SHA256())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = _pem_key(key, key_password)
        cert_path, key_path = self.directory / f"{name}.pem", self.directory / f"{name}.key"
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        keystore = self.directory / f"{name}-keystore.pem"
        keystore.write_bytes(key_pem + cert_pem)
        keystore.chmod(0o600)
        p12 = pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, [self._ca_cert], serialization.BestAvailableEncryption(b"changeit")
        )
        (self.directory / f"{name}.p12").write_bytes(p12)
        return Issued(cert_path, key_path, cert.subject.rfc4514_string())


def plain_jaas(users: dict[str, str], username: str = "", password: str = "") -> str:
    """A PlainLoginModule JAAS line: `user_<name>` options for the server, username/password for brook as a
    client (inter-broker)."""
    options = [f'username="{username}" password="{password}"'] if username else []
    options += [f'user_{name}="{secret}"' for name, secret in users.items()]
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {' '.join(options)};"


def scram_jaas(username: str, password: str) -> str:
    """A ScramLoginModule JAAS line: what brook sends as a SCRAM client (inter-broker)."""
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


def secured_cluster_overrides(
    pki: TestPki,
    *,
    broker_user: tuple[str, str],
    plain_users: dict[str, str],
    super_users: tuple[str, ...] = (),
    inter_broker_mechanism: str = "SCRAM-SHA-512",
) -> dict[str, str]:
    """Broker overrides for a cluster whose only listener is SASL_SSL, inter-broker traffic included: the
    brokers authenticate to each other as `broker_user` with `inter_broker_mechanism` (a SCRAM user must
    exist in the store before the brokers start), ACLs are on with allow.everyone.if.no.acl.found=false and
    the broker user a super user (replica fetches and transaction markers need CLUSTER_ACTION). The listener
    itself (`listeners`, `advertised.listeners`) is set per broker."""
    username, password = broker_user
    if inter_broker_mechanism == "PLAIN":  # the broker user is a PLAIN user too, and the JAAS names it
        jaas = {"plain": plain_jaas({**plain_users, username: password}, username, password)}
    else:
        jaas = {
            "plain": plain_jaas(plain_users),
            inter_broker_mechanism.lower(): scram_jaas(username, password),
        }
    return {
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL",
        "security.inter.broker.protocol": "SASL_SSL",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": inter_broker_mechanism,
        **{f"listener.name.sasl_ssl.{m}.sasl.jaas.config": line for m, line in jaas.items()},
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(f"User:{u}" for u in (username, *super_users)),
    }


def secured_listeners(
    pki: TestPki,
    *,
    plain_users: dict[str, str] | None = None,
    mechanisms: str = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    client_auth: str = "none",
) -> dict[str, str]:
    """Broker overrides: PLAINTEXT (first, so `--port` moves it), SSL, SASL_PLAINTEXT and SASL_SSL on free
    ports; the PEM keystore and truststore from `pki`."""
    jaas = plain_jaas(plain_users or {"admin": "admin-secret"})
    return {
        "listeners": (
            "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "ssl.client.auth": client_auth,
        "sasl.enabled.mechanisms": mechanisms,
        "sasl.jaas.config": jaas,
    }


def add_scram_user(
    bootstrap: str, user: str, password: str, mechanisms: tuple[str, ...] = ("SCRAM-SHA-256", "SCRAM-SHA-512")
) -> None:
    """Create a SCRAM user through AlterUserScramCredentials (the Admin client, on a PLAINTEXT listener)."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsertions: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(getattr(ScramMechanism, m.replace("-", "_")), 4096), password.encode()
        )
        for m in mechanisms
    ]
    for future in admin.alter_user_scram_credentials(upsertions).values():
        future.result(timeout=30)


class SecuredBroker:
    """A brook with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners, a PLAIN user and a SCRAM user
    (both mechanisms), and librdkafka client settings for each:

        with SecuredBroker(tmp_path) as secured:
            Producer(secured.client_config("SASL_SSL", "SCRAM-SHA-512"))
    """

    PLAIN_USER = ("alice", "alice-secret")
    SCRAM_USER = ("bob", "bob-secret")

    def __init__(self, directory: Path, **overrides: str) -> None:
        from brook.testing.broker_process import BrookProcess

        self.pki = TestPki(directory / "pki")
        settings = secured_listeners(self.pki, plain_users=dict([self.PLAIN_USER]))
        self.broker = BrookProcess(data_dir=directory / "data", overrides={**settings, **overrides})

    def __enter__(self) -> SecuredBroker:
        self.broker.start()
        try:
            add_scram_user(self.broker.bootstrap, *self.SCRAM_USER)
        except BaseException:
            self.broker.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.broker.stop()

    def client_config(self, listener: str, mechanism: str | None = None) -> dict[str, str]:
        """librdkafka settings for `listener` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); SASL listeners
        need a mechanism (PLAIN uses the PLAIN user, SCRAM-* the SCRAM user)."""
        config = {
            "bootstrap.servers": self.broker.listener_bootstrap(listener),
            "security.protocol": listener,
        }
        if "SSL" in listener:
            config["ssl.ca.location"] = str(self.pki.ca)
        if "SASL" in listener:
            if mechanism is None:
                raise ValueError(f"{listener} needs a SASL mechanism")
            user, password = self.PLAIN_USER if mechanism == "PLAIN" else self.SCRAM_USER
            config |= {"sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}
        return config
