"""Three brokers replicating over a SASL_SSL inter-broker listener (SCRAM-SHA-512, credentials in ZooKeeper);
clients use a separate SASL_SSL listener with PLAIN. Each broker registers every listener in Kafka's layout."""

from __future__ import annotations

import json
import time

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from brook.protocol.scram import ScramCredential
from brook.testing.broker_process import BrookProcess
from brook.testing.security import TestPki, plain_jaas

SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";'


def _seed_broker_user(zookeeper: str) -> None:
    """The inter-broker SCRAM user, written as kafka-configs.sh --zookeeper writes it (before any broker runs)."""
    hosts, _, chroot = zookeeper.partition("/")
    zk = KazooClient(hosts=hosts)
    zk.start(timeout=30)
    try:
        credential = ScramCredential.from_password("SCRAM-SHA-512", "broker-secret").to_kafka()
        doc = json.dumps({"version": 1, "config": {"SCRAM-SHA-512": credential}}).encode()
        zk.create(f"/{chroot}/config/users/broker", doc, makepath=True)
    finally:
        zk.stop()
        zk.close()


def test_three_brokers_replicate_over_a_sasl_ssl_inter_broker_listener(zookeeper, tmp_path):
    pki = TestPki(tmp_path / "pki")
    _seed_broker_user(zookeeper)
    common = {
        "zookeeper.connect": zookeeper,
        "listeners": "CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
        "listener.security.protocol.map": "CLIENT:SASL_SSL,INTERNAL:SASL_SSL",
        "inter.broker.listener.name": "INTERNAL",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.client.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.client.plain.sasl.jaas.config": plain_jaas({"alice": "alice-secret"}),
        "listener.name.internal.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.internal.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.directory / "broker-keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "offsets.topic.replication.factor": "3",
        "default.replication.factor": "3",
    }
    brokers = [
        BrookProcess(data_dir=tmp_path / f"b{i}", overrides={**common, "broker.id": str(i)}) for i in range(3)
    ]
    try:
        for broker in brokers:
            broker.start()
        client = {
            "bootstrap.servers": ",".join(b.listener_bootstrap("CLIENT") for b in brokers),
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(pki.ca),
            "sasl.mechanism": "PLAIN",
            "sasl.username": "alice",
            "sasl.password": "alice-secret",
        }
        admin = AdminClient(client)
        deadline = time.monotonic() + 60
        while len(admin.list_topics(timeout=10).brokers) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        metadata = admin.list_topics(timeout=10)
        assert sorted(b.port for b in metadata.brokers.values()) == sorted(
            b.listener_ports["CLIENT"] for b in brokers
        )  # the listener the client connected to, for every broker
        admin.create_topics([NewTopic("secured", 2, 3)])["secured"].result(timeout=30)

        # every broker registered both endpoints, in Kafka's layout
        hosts, _, chroot = zookeeper.partition("/")
        zk = KazooClient(hosts=hosts)
        zk.start(timeout=30)
        try:
            for i, broker in enumerate(brokers):
                doc = json.loads(zk.get(f"/{chroot}/brokers/ids/{i}")[0])
                assert doc["listener_security_protocol_map"] == {"CLIENT": "SASL_SSL", "INTERNAL": "SASL_SSL"}
                assert doc["endpoints"] == [
                    f"CLIENT://127.0.0.1:{broker.listener_ports['CLIENT']}",
                    f"INTERNAL://127.0.0.1:{broker.listener_ports['INTERNAL']}",
                ]
                assert (doc["host"], doc["port"]) == (None, -1)  # no PLAINTEXT endpoint, as Kafka writes it
        finally:
            zk.stop()
            zk.close()

        producer = confluent_kafka.Producer({**client, "acks": "all", "enable.idempotence": True})
        acked: list[tuple[int, int]] = []
        for i in range(40):
            producer.produce(
                "secured",
                key=f"k{i}",
                value=f"v{i}",
                on_delivery=lambda e, m: acked.append((m.partition(), m.offset())) if e is None else None,
            )
        assert producer.flush(60) == 0
        assert len(acked) == 40
        isr_full = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # after all 40 records were acknowledged
            topic = admin.list_topics("secured", timeout=10).topics["secured"]
            if all(len(p.isrs) == 3 for p in topic.partitions.values()):
                isr_full = True
                break
            time.sleep(0.2)
        # (a follower joins the ISR once it fetched up to the leader's high watermark: over SASL_SSL here)
        assert isr_full, "followers did not join the ISR over the SASL_SSL inter-broker listener"
        assert not any("authentication failed" in line for b in brokers for line in b.output)
        assert any("replica fetcher connected" in line for b in brokers for line in b.output)
    finally:
        for broker in brokers:
            broker.stop()
