"""A BrookCluster's security when it is secured (`BrookCluster(3, secured=True)`): every broker's only
listener is SASL_SSL, inter-broker traffic included (replica fetches, transaction markers), with a throwaway
CA, SCRAM users written to ZooKeeper before the brokers start, and ACLs on (allow.everyone.if.no.acl.found
=false; the brokers' own user and `admin` are super users).

    with BrookCluster(3, secured=True) as cluster:
        Producer({**cluster.client_config(), "acks": "all"})            # admin, SCRAM-SHA-512
        cluster.client_config("alice", "PLAIN")                         # a user with no ACLs yet
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brook.protocol.scram import SCRAM_MECHANISMS, ScramCredential
from brook.testing.security import TestPki, secured_cluster_overrides

__all__ = ["ClusterSecurity"]


@contextlib.contextmanager
def _kazoo(hosts: str) -> Iterator[Any]:
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=hosts)
    zk.start(timeout=30)
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()


LISTENER = "SASL_SSL"


class ClusterSecurity:
    BROKER_USER = ("broker", "broker-secret")
    USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}  # PLAIN and SCRAM

    def __init__(self, directory: Path, inter_broker_mechanism: str = "SCRAM-SHA-512") -> None:
        self.pki = TestPki(directory)
        self.inter_broker_mechanism = inter_broker_mechanism
        self.overrides = secured_cluster_overrides(
            self.pki,
            broker_user=self.BROKER_USER,
            plain_users=self.USERS,
            super_users=("admin",),
            inter_broker_mechanism=inter_broker_mechanism,
        )

    @staticmethod
    def listener_overrides(port: int, advertised_port: int) -> dict[str, str]:
        return {
            "listeners": f"{LISTENER}://127.0.0.1:{port}",
            "advertised.listeners": f"{LISTENER}://127.0.0.1:{advertised_port}",
        }

    def seed_users(self, zk_connect: str) -> None:
        """Every user's SCRAM credentials (both mechanisms) in ZooKeeper, as kafka-configs.sh writes them
        (the chroot of `zk_connect` is created if missing)."""
        from brook.metadata.zookeeper.scram import write_scram_credential

        hosts, _, chroot = zk_connect.partition("/")
        if chroot:
            with _kazoo(hosts) as root:
                root.ensure_path("/" + chroot)
        with _kazoo(zk_connect) as zk:
            for user, password in [self.BROKER_USER, *self.USERS.items()]:
                for mechanism in SCRAM_MECHANISMS:
                    credential = ScramCredential.from_password(mechanism, password).to_kafka()
                    write_scram_credential(zk, user, mechanism, credential)

    def client_config(
        self, bootstrap: str, user: str = "admin", mechanism: str = "SCRAM-SHA-512"
    ) -> dict[str, str]:
        """librdkafka settings for `user` over SASL_SSL."""
        password = self.BROKER_USER[1] if user == self.BROKER_USER[0] else self.USERS[user]
        return {
            "bootstrap.servers": bootstrap,
            "security.protocol": LISTENER,
            "ssl.ca.location": str(self.pki.ca),
            "sasl.mechanism": mechanism,
            "sasl.username": user,
            "sasl.password": password,
        }
