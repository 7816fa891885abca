"""Authorization against a real broker: ACLs created through the Admin client as a super user, then every API
asked as users with and without ACLs (raw frames over SASL/PLAIN, and real clients), with Kafka's error codes.

alice: READ/WRITE on topic `orders`, ALL on topics prefixed `team-a.` but READ denied on `team-a.secret`,
READ on group `alice-group`. bob: no ACLs. admin: super user. ANONYMOUS (the PLAINTEXT listener): no ACLs.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from brook.testing.batches import make_batch
from brook.testing.broker_process import BrookProcess, report_on_failure
from tests.integration.acl_helpers import (
    USERS,
    acl,
    authorizer_overrides,
    client_conf,
    create_acls,
    create_topics,
    sasl_raw,
)
from tests.integration.raw_client import RawClient, acl_creation, acl_filter, fetch_body, produce_body

pytestmark = pytest.mark.integration

TOPIC_DENIED, GROUP_DENIED, CLUSTER_DENIED = 29, 30, 31
SECURITY_DISABLED, NOT_LEADER_OR_FOLLOWER = 54, 6
COORDINATOR_NOT_READY = {14, 15, 16}  # loading, not available, not coordinator: retried
ALICE, BOB = "User:alice", "User:bob"
TOPICS = ("orders", "team-a.events", "team-a.secret", "other")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(tmp_path_factory.mktemp("acls"), overrides=authorizer_overrides()) as process:
        sasl = process.listener_bootstrap("SASL_PLAINTEXT")
        admin = AdminClient(client_conf(sasl, "admin"))
        create_topics(admin, TOPICS)
        create_acls(
            admin,
            [
                acl(ResourceType.TOPIC, "orders", ALICE, AclOperation.READ),
                acl(ResourceType.TOPIC, "orders", ALICE, AclOperation.WRITE),
                acl(
                    ResourceType.TOPIC,
                    "team-a.",
                    ALICE,
                    AclOperation.ALL,
                    pattern=ResourcePatternType.PREFIXED,
                ),
                acl(ResourceType.TOPIC, "team-a.secret", ALICE, AclOperation.READ, AclPermissionType.DENY),
                acl(ResourceType.GROUP, "alice-group", ALICE, AclOperation.READ),
            ],
        )
        _wait_for_coordinator(sasl, "alice-group")
        yield process


def _wait_for_coordinator(bootstrap: str, group: str) -> None:
    """FindCoordinator (as the super user) until the offsets topic exists and has a coordinator."""
    with sasl_raw(bootstrap, "admin") as raw:
        deadline = time.monotonic() + 60
        while raw.request(10, 4, {"key_type": 0, "coordinator_keys": [group]}).coordinators[0].error_code:
            assert time.monotonic() < deadline, "no group coordinator within 60 s"
            time.sleep(0.2)


@pytest.fixture(autouse=True)
def _report(broker):
    report_on_failure(broker)


@pytest.fixture
def sasl(broker):
    return broker.listener_bootstrap("SASL_PLAINTEXT")


@pytest.fixture
def as_user(sasl):
    opened: list[RawClient] = []

    def connect(user: str) -> RawClient:
        opened.append(sasl_raw(sasl, user))
        return opened[-1]

    yield connect
    for raw in opened:
        raw.close()


def _produce(raw: RawClient, topic: str) -> int:
    response = raw.request(0, 9, produce_body(topic, 0, make_batch([(None, b"v")])))
    return response.responses[0].partition_responses[0].error_code


def _fetch(raw: RawClient, topic: str, replica_id: int = -1) -> int:
    body = fetch_body(topic, 0, max_wait_ms=0)
    body["replica_id"] = replica_id
    return raw.request(1, 12, body).responses[0].partitions[0].error_code


def _metadata(raw: RawClient, topics: list[str] | None, *, create: bool = False, ops: bool = False):
    body = {
        "topics": None if topics is None else [{"name": t} for t in topics],
        "allow_auto_topic_creation": create,
        "include_topic_authorized_operations": ops,
    }
    return raw.request(3, 12, body)


def _commit(raw: RawClient, group: str, topic: str) -> int:
    """A simple commit of offset 1, retried while the offsets topic's coordinator is still loading."""
    body = {
        "group_id": group,
        "generation_id_or_member_epoch": -1,
        "member_id": "",
        "topics": [{"name": topic, "partitions": [{"partition_index": 0, "committed_offset": 1}]}],
    }
    deadline = time.monotonic() + 60
    while True:
        code = raw.request(8, 8, body).topics[0].partitions[0].error_code
        if code not in COORDINATOR_NOT_READY or time.monotonic() > deadline:
            return code
        time.sleep(0.2)


def test_produce_needs_write_on_the_topic(as_user):
    assert _produce(as_user("bob"), "orders") == TOPIC_DENIED
    alice = as_user("alice")
    assert _produce(alice, "orders") == 0
    assert _produce(alice, "team-a.events") == 0  # prefixed ALL
    assert _produce(alice, "other") == TOPIC_DENIED
    assert _produce(as_user("admin"), "other") == 0  # super user, no ACL needed


def test_produce_on_plaintext_is_anonymous_and_denied(broker):
    with RawClient(broker.listener_bootstrap("PLAINTEXT")) as raw:
        assert _produce(raw, "orders") == TOPIC_DENIED


def test_fetch_needs_read_and_deny_wins_over_a_prefixed_all(as_user):
    alice = as_user("alice")
    assert _fetch(alice, "orders") == 0
    assert _fetch(alice, "team-a.events") == 0
    assert _fetch(alice, "team-a.secret") == TOPIC_DENIED  # DENY READ beats the prefixed ALLOW ALL
    assert _produce(alice, "team-a.secret") == 0  # only READ was denied
    assert _fetch(as_user("bob"), "orders") == TOPIC_DENIED


def test_a_client_cannot_fetch_as_a_follower_without_cluster_action(as_user):
    assert _fetch(as_user("alice"), "orders", replica_id=1) == TOPIC_DENIED
    # the super user gets past authorization: a single node has no follower 1 (Kafka answers the same)
    assert _fetch(as_user("admin"), "orders", replica_id=1) == NOT_LEADER_OR_FOLLOWER


def test_metadata_hides_topics_the_user_may_not_describe(as_user):
    assert [t.name for t in _metadata(as_user("bob"), None).topics] == []
    names = sorted(t.name for t in _metadata(as_user("alice"), None).topics)
    assert [n for n in names if n in TOPICS] == ["orders", "team-a.events", "team-a.secret"]
    named = _metadata(as_user("bob"), ["orders"]).topics[0]
    assert (named.name, named.error_code, named.partitions) == ("orders", TOPIC_DENIED, ())


def test_metadata_authorized_operations_are_the_users(as_user):
    topic = _metadata(as_user("alice"), ["orders"], ops=True).topics[0]
    read, write, describe = 3, 4, 8
    assert topic.error_code == 0
    assert topic.topic_authorized_operations == (1 << read) | (1 << write) | (1 << describe)
    assert _metadata(as_user("alice"), ["orders"]).topics[0].topic_authorized_operations == -(2**31)


def test_auto_create_needs_create_on_the_topic_or_cluster(as_user):
    alice = as_user("alice")
    name = f"team-a.auto-{uuid.uuid4().hex[:6]}"
    created = _metadata(alice, [name], create=True).topics[0]
    assert created.error_code == 0
    assert len(created.partitions) == 1
    refused = _metadata(alice, [f"auto-{uuid.uuid4().hex[:6]}"], create=True).topics[0]
    assert refused.error_code == TOPIC_DENIED


def test_list_offsets_needs_describe(as_user):
    body = {
        "replica_id": -1,
        "topics": [{"name": "orders", "partitions": [{"partition_index": 0, "timestamp": -1}]}],
    }
    assert as_user("bob").request(2, 7, body).topics[0].partitions[0].error_code == TOPIC_DENIED
    assert as_user("alice").request(2, 7, body).topics[0].partitions[0].error_code == 0


def test_offset_commit_and_fetch_need_the_group_and_the_topic(as_user):
    alice, bob = as_user("alice"), as_user("bob")
    assert _commit(bob, "alice-group", "orders") == GROUP_DENIED
    assert _commit(alice, "other-group", "orders") == GROUP_DENIED
    assert _commit(alice, "alice-group", "orders") == 0
    assert _commit(alice, "alice-group", "team-a.secret") == TOPIC_DENIED  # READ denied on the topic
    body = {"group_id": "alice-group", "topics": [{"name": "orders", "partition_indexes": [0]}]}
    fetched = alice.request(9, 7, body)
    assert (fetched.error_code, fetched.topics[0].partitions[0].committed_offset) == (0, 1)
    assert bob.request(9, 7, body).error_code == GROUP_DENIED


def test_group_membership_apis_need_read_on_the_group(as_user):
    bob = as_user("bob")
    join = {
        "group_id": "alice-group",
        "session_timeout": 10_000,
        "rebalance_timeout": 10_000,
        "member_id": "",
        "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b""}],
    }
    assert bob.request(11, 7, join).error_code == GROUP_DENIED
    member = {"group_id": "alice-group", "generation_id": 1, "member_id": "m"}
    assert bob.request(12, 4, member).error_code == GROUP_DENIED
    assert bob.request(14, 5, {**member, "assignments": []}).error_code == GROUP_DENIED
    leave = {"group_id": "alice-group", "members": [{"member_id": "m"}]}
    assert bob.request(13, 4, leave).error_code == GROUP_DENIED
    described = bob.request(15, 5, {"groups": ["alice-group"], "include_authorized_operations": True})
    assert described.groups[0].error_code == GROUP_DENIED
    deleted = bob.request(42, 2, {"groups_names": ["alice-group"]})
    assert deleted.results[0].error_code == GROUP_DENIED
    offsets = {
        "group_id": "alice-group",
        "topics": [{"name": "orders", "partitions": [{"partition_index": 0}]}],
    }
    assert bob.request(47, 0, offsets).error_code == GROUP_DENIED


def test_find_coordinator_and_list_groups_show_only_describable_groups(as_user):
    alice, bob = as_user("alice"), as_user("bob")
    assert _commit(alice, "alice-group", "orders") == 0
    find = {"key_type": 0, "coordinator_keys": ["alice-group"]}
    assert bob.request(10, 4, find).coordinators[0].error_code == GROUP_DENIED
    assert alice.request(10, 4, find).coordinators[0].error_code == 0
    assert [g.group_id for g in bob.request(16, 4, {"states_filter": []}).groups] == []
    assert "alice-group" in [g.group_id for g in alice.request(16, 4, {"states_filter": []}).groups]


def test_topic_admin_apis_need_create_delete_alter(as_user):
    bob = as_user("bob")
    create = {"topics": [{"name": "bobs", "num_partitions": 1, "replication_factor": 1}], "timeout": 5000}
    assert bob.request(19, 7, create).topics[0].error_code == TOPIC_DENIED
    assert (
        bob.request(20, 4, {"topic_names": ["orders"], "timeout": 5000}).responses[0].error_code
        == TOPIC_DENIED
    )
    partitions = {"topics": [{"name": "orders", "count": 2, "assignments": None}], "timeout": 5000}
    assert bob.request(37, 3, partitions).results[0].error_code == TOPIC_DENIED
    records = {
        "topics": [{"name": "orders", "partitions": [{"partition_index": 0, "offset": -1}]}],
        "timeout": 5000,
    }
    assert bob.request(21, 2, records).topics[0].partitions[0].error_code == TOPIC_DENIED
    alice = as_user("alice")
    name = f"team-a.made-{uuid.uuid4().hex[:6]}"
    made = alice.request(19, 7, {**create, "topics": [{**create["topics"][0], "name": name}]}).topics[0]
    assert made.error_code == 0
    assert alice.request(20, 4, {"topic_names": [name], "timeout": 5000}).responses[0].error_code == 0


def test_configs_need_describe_and_alter_configs(as_user):
    bob = as_user("bob")
    describe = {
        "resources": [
            {"resource_type": 2, "resource_name": "orders", "configuration_keys": None},
            {"resource_type": 4, "resource_name": "0", "configuration_keys": None},
        ]
    }
    results = bob.request(32, 4, describe).results
    assert [r.error_code for r in results] == [TOPIC_DENIED, CLUSTER_DENIED]
    alter = {
        "resources": [{"resource_type": 2, "resource_name": "orders", "configs": []}],
        "validate_only": True,
    }
    assert bob.request(44, 1, alter).responses[0].error_code == TOPIC_DENIED
    assert (
        as_user("alice").request(32, 4, {"resources": describe["resources"][:1]}).results[0].error_code
        == TOPIC_DENIED
    )
    alices = as_user("alice").request(
        32,
        4,
        {"resources": [{"resource_type": 2, "resource_name": "team-a.events", "configuration_keys": None}]},
    )
    assert alices.results[0].error_code == 0
    assert alices.results[0].configs


def test_cluster_apis_need_cluster_acls(as_user):
    bob = as_user("bob")
    assert bob.request(48, 1, {"components": [], "strict": False}).error_code == CLUSTER_DENIED
    elect = {
        "election_type": 0,
        "topic_partitions": [{"topic": "orders", "partitions": [0]}],
        "timeout": 5000,
    }
    assert bob.request(43, 2, elect).error_code == CLUSTER_DENIED
    assert bob.request(35, 2, {"topics": None}).results == ()
    assert as_user("admin").request(35, 2, {"topics": None}).results != ()
    cluster = bob.request(60, 0, {"include_cluster_authorized_operations": True})
    assert cluster.cluster_authorized_operations == 0
    assert bob.request(50, 0, {"users": None}).error_code == CLUSTER_DENIED
    upsert = {
        "name": "mallory",
        "mechanism": 1,
        "iterations": 4096,
        "salt": b"s",
        "salted_password": b"p" * 32,
    }
    altered = bob.request(51, 0, {"deletions": [], "upsertions": [upsert]})
    assert [(r.user, r.error_code) for r in altered.results] == [("mallory", CLUSTER_DENIED)]
    assert as_user("admin").request(50, 0, {"users": [{"name": "mallory"}]}).results[0].error_code == 91


def test_init_producer_id_needs_idempotent_write_or_write_on_some_topic(as_user):
    body = {"transactional_id": None, "transaction_timeout": 60_000}
    assert as_user("bob").request(22, 4, body).error_code == CLUSTER_DENIED
    assert as_user("alice").request(22, 4, body).error_code == 0


def test_acl_apis_need_cluster_alter_and_describe(as_user):
    bob = as_user("bob")
    describe = acl_filter()
    assert bob.request(29, 3, describe).error_code == CLUSTER_DENIED
    creation = acl_creation(principal=BOB, operation=2)
    assert bob.request(30, 3, {"creations": [creation]}).results[0].error_code == CLUSTER_DENIED
    deleted = bob.request(31, 3, {"filters": [describe]}).filter_results[0]
    assert deleted.error_code == CLUSTER_DENIED
    assert as_user("admin").request(29, 3, describe).error_code == 0


def test_admin_client_creates_describes_and_deletes_acls(sasl):
    admin = AdminClient(client_conf(sasl, "admin"))
    carol = f"User:carol-{uuid.uuid4().hex[:6]}"
    create_acls(
        admin,
        [
            acl(
                ResourceType.TOPIC, "carol-", carol, AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED
            ),
            acl(ResourceType.TRANSACTIONAL_ID, "carol-tx", carol, AclOperation.WRITE),
            acl(ResourceType.BROKER, "kafka-cluster", carol, AclOperation.IDEMPOTENT_WRITE),
        ],
    )
    every = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, carol, None, AclOperation.ANY, AclPermissionType.ANY
    )
    found = admin.describe_acls(every).result(timeout=30)
    assert sorted((b.restype, b.name, b.resource_pattern_type) for b in found) == sorted(
        [
            (ResourceType.TOPIC, "carol-", ResourcePatternType.PREFIXED),
            (ResourceType.TRANSACTIONAL_ID, "carol-tx", ResourcePatternType.LITERAL),
            (ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL),
        ]
    )
    match = AclBindingFilter(
        ResourceType.TOPIC,
        "carol-orders",
        ResourcePatternType.MATCH,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    assert [b.name for b in admin.describe_acls(match).result(timeout=30)] == ["carol-"]
    deleted = admin.delete_acls([every])[every].result(timeout=30)
    assert len(deleted) == 3
    assert admin.describe_acls(every).result(timeout=30) == []


def test_admin_client_gets_invalid_request_for_a_bad_binding(sasl):
    admin = AdminClient(client_conf(sasl, "admin"))
    bad = acl(ResourceType.BROKER, "not-the-cluster", ALICE, AclOperation.ALTER)
    with pytest.raises(KafkaException) as raised:
        admin.create_acls([bad])[bad].result(timeout=30)
    assert raised.value.args[0].code() == KafkaError.INVALID_REQUEST


def test_real_clients_get_authorization_errors(sasl):
    errors = []
    bob = Producer(client_conf(sasl, "bob", **{"message.timeout.ms": 10_000}))
    bob.produce("orders", b"v", on_delivery=lambda err, _msg: errors.append(err))
    bob.flush(30)
    assert [e.code() for e in errors] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]

    alice = Producer(client_conf(sasl, "alice"))
    key = uuid.uuid4().hex.encode()
    alice.produce("orders", b"from-alice", key=key)
    assert alice.flush(30) == 0
    consumer = Consumer(
        client_conf(sasl, "alice", **{"group.id": "alice-group", "auto.offset.reset": "earliest"})
    )
    consumer.subscribe(["orders"])
    try:
        values = []
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None and msg.key() == key:
                values.append(msg.value())
                break
        assert values == [b"from-alice"]
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    intruder = Consumer(
        client_conf(sasl, "bob", **{"group.id": "alice-group", "auto.offset.reset": "earliest"})
    )
    intruder.subscribe(["orders"])
    try:
        seen = None
        for _ in range(30):
            msg = intruder.poll(1.0)
            if msg is not None and msg.error() is not None:
                seen = msg.error().code()
                break
        assert seen in (KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED)
    finally:
        intruder.close()


def test_acl_apis_answer_security_disabled_without_an_authorizer(tmp_path):
    with BrookProcess(tmp_path) as plain, RawClient(plain.bootstrap) as raw:
        assert raw.request(29, 3, acl_filter()).error_code == SECURITY_DISABLED
        assert _metadata(raw, ["anything"], create=True).topics[0].error_code == 0  # everything is allowed


def test_metadata_by_topic_id_does_not_reveal_the_name(as_user):
    topic_id = _metadata(as_user("admin"), ["orders"]).topics[0].topic_id
    denied = as_user("bob").request(3, 12, {"topics": [{"name": None, "topic_id": topic_id}]}).topics[0]
    assert (denied.error_code, denied.name, denied.topic_id) == (TOPIC_DENIED, None, topic_id)
    found = as_user("alice").request(3, 12, {"topics": [{"name": None, "topic_id": topic_id}]}).topics[0]
    assert (found.error_code, found.name) == (0, "orders")


def test_kafka_python_admin_gets_authorization_errors(sasl):
    from kafka import KafkaAdminClient
    from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ResourcePatternFilter
    from kafka.admin import ACLResourcePatternType as PatternType
    from kafka.admin import NewTopic as KNewTopic
    from kafka.admin import ResourceType as KResourceType
    from kafka.errors import ClusterAuthorizationFailedError, TopicAuthorizationFailedError

    def admin_for(user: str) -> KafkaAdminClient:
        return KafkaAdminClient(
            bootstrap_servers=sasl,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_plain_username=user,
            sasl_plain_password=USERS[user],
        )

    every = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(KResourceType.TOPIC, "orders", PatternType.LITERAL),
    )
    bob = admin_for("bob")
    try:
        with pytest.raises(ClusterAuthorizationFailedError):
            bob.describe_acls(every)
        with pytest.raises(TopicAuthorizationFailedError):
            bob.create_topics([KNewTopic("bobs-topic", 1, 1)])
    finally:
        bob.close()
    admin = admin_for("admin")
    try:
        acls, error = admin.describe_acls(every)
        assert error.errno == 0
        assert sorted(a.operation.name for a in acls) == ["READ", "WRITE"]
    finally:
        admin.close()


def test_allow_everyone_if_no_acl_found_opens_only_resources_without_acls(tmp_path):
    overrides = authorizer_overrides(**{"allow.everyone.if.no.acl.found": "true"})
    with BrookProcess(tmp_path, overrides=overrides) as open_broker:
        sasl = open_broker.listener_bootstrap("SASL_PLAINTEXT")
        admin = AdminClient(client_conf(sasl, "admin"))
        create_topics(admin, ("open", "guarded"))
        create_acls(admin, [acl(ResourceType.TOPIC, "guarded", ALICE, AclOperation.WRITE)])
        anonymous = RawClient(open_broker.listener_bootstrap("PLAINTEXT"))
        bob, alice = sasl_raw(sasl, "bob"), sasl_raw(sasl, "alice")
        try:
            assert _produce(anonymous, "open") == 0  # no ACL on the topic: everyone may
            assert _produce(bob, "open") == 0
            assert _produce(anonymous, "guarded") == TOPIC_DENIED  # an ACL exists: only what it grants
            assert _produce(bob, "guarded") == TOPIC_DENIED
            assert _produce(alice, "guarded") == 0
        finally:
            for raw in (anonymous, bob, alice):
                raw.close()


def test_a_prefixed_all_covers_admin_apis_on_matching_topics(as_user):
    alice = as_user("alice")
    partitions = {"topics": [{"name": "team-a.events", "count": 2, "assignments": None}], "timeout": 5000}
    assert alice.request(37, 3, partitions).results[0].error_code == 0
    alter = {
        "resources": [
            {
                "resource_type": 2,
                "resource_name": "team-a.events",
                "configs": [{"name": "retention.ms", "config_operation": 0, "value": "3600000"}],
            }
        ],
        "validate_only": False,
    }
    assert alice.request(44, 1, alter).responses[0].error_code == 0
    assert (
        alice.request(44, 1, {**alter, "resources": [{**alter["resources"][0], "resource_name": "orders"}]})
        .responses[0]
        .error_code
        == TOPIC_DENIED
    )


def test_describe_groups_reports_the_callers_operations(as_user):
    alice = as_user("alice")
    assert _commit(alice, "alice-group", "orders") == 0
    described = alice.request(
        15, 5, {"groups": ["alice-group"], "include_authorized_operations": True}
    ).groups[0]
    read, describe = 3, 8
    assert described.error_code == 0
    assert described.authorized_operations == (1 << read) | (1 << describe)


def test_an_unauthorized_acks_0_producer_has_its_connection_closed(sasl):
    with sasl_raw(sasl, "bob") as bob:
        _, frame = bob.frame(0, 9, produce_body("orders", 0, make_batch([(None, b"v")]), acks=0))
        bob.send_raw(frame)
        assert bob.is_closed_by_peer(timeout_s=15)
    with sasl_raw(sasl, "alice") as alice:
        _, frame = alice.frame(0, 9, produce_body("orders", 0, make_batch([(None, b"v")]), acks=0))
        alice.send_raw(frame)
        assert not alice.is_closed_by_peer(timeout_s=1)  # authorized: nothing to say, the connection stays
