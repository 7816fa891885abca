"""`brook transactions list | describe | find-hanging | abort` against a real brook."""

from __future__ import annotations

from confluent_kafka import Producer

from tests.integration.cli_helpers import Brook, module_broker_fixture, table
from tests.integration.helpers import produce_all, wait_until
from tests.integration.raw_client import RawClient
from tests.integration.txn_raw import init_producer_id, produce_txn

cli_broker = module_broker_fixture()


def test_list_and_describe_an_open_transaction(cli_broker):
    brook = Brook(cli_broker)
    producer = Producer({"bootstrap.servers": cli_broker.bootstrap, "transactional.id": "cli-open"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce("cli-txn", value=b"x")
    producer.flush(30)
    listed = brook.json("transactions", "list", "--state", "Ongoing")
    assert [(t["transactional_id"], t["state"]) for t in listed] == [("cli-open", "Ongoing")]
    described = table(brook.run("transactions", "describe", "--transactional-id", "cli-open").stdout)
    assert [(d["TransactionalId"], d["TransactionState"], d["TopicPartitions"]) for d in described] == [
        ("cli-open", "Ongoing", "cli-txn-0")
    ]
    producer.commit_transaction(30)
    doc = wait_until(  # the markers are written after the commit is answered
        lambda: _completed(brook.json("transactions", "describe", "--transactional-id", "cli-open")),
        timeout_s=30,
    )
    assert (doc["state"], doc["partitions"]) == ("CompleteCommit", [])
    assert brook.run("transactions", "describe", "--transactional-id", "no-such-id", expect=1).exit_code == 1


def test_find_hanging_and_abort_a_transaction_no_coordinator_knows(cli_broker):
    brook = Brook(cli_broker)
    produce_all(cli_broker.bootstrap, "cli-hanging", [(None, b"before")])
    raw = RawClient(cli_broker.bootstrap)
    try:
        # a transactional batch from a producer id the coordinator never gave out: nobody will end it
        producer_id, epoch = init_producer_id(raw)
        assert produce_txn(raw, "cli-hanging", 0, producer_id, epoch, 0, [b"hanging"]).error_code == 0
    finally:
        raw.close()
    hanging = brook.json("transactions", "find-hanging", "--max-transaction-timeout", "0")
    assert [(h["topic"], h["partition"], h["producer_id"], h["start_offset"]) for h in hanging] == [
        ("cli-hanging", 0, producer_id, 1)
    ]
    brook.run("transactions", "abort", "--topic", "cli-hanging", "--partition", "0", "--start-offset", "1")
    wait_until(
        lambda: brook.json("transactions", "find-hanging", "--max-transaction-timeout", "0") == [],
        timeout_s=30,
    )
    assert (
        brook.run(
            "transactions",
            "abort",
            "--topic",
            "cli-hanging",
            "--partition",
            "0",
            "--start-offset",
            "1",
            expect=1,
        ).exit_code
        == 1
    )


def _completed(doc: dict) -> dict | None:
    return doc if doc["state"] != "PrepareCommit" else None
