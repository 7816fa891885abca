"""Transaction markers replicate like any batch: followers rebuild their producer state, last stable
offset and aborted-transaction index from what they fetch, so a new leader still hides aborted records
and keeps an open transaction invisible."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from brook.common.errors import ErrorCode
from brook.storage.txn_index import decode_entries
from tests.cluster.test_replication import brook_on, state_of
from tests.integration.helpers import wait_until
from tests.integration.raw_client import RawClient
from tests.integration.test_txn_log import consume_values
from tests.integration.txn_raw import init_producer_id, list_offset, produce_txn, write_markers

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def _log_bytes(data_dir: Path, topic: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / f"{topic}-0").glob("*.log")))


def _txn_index(data_dir: Path, topic: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / f"{topic}-0").glob("*.txnindex")))


def test_new_leader_hides_aborted_records_and_keeps_the_open_transaction_open(zookeeper, zk, tmp_path):
    dirs = [tmp_path / f"b{i}" for i in range(3)]
    brokers = [brook_on(zookeeper, dirs[i], i) for i in range(3)]
    for b in brokers:
        b.start()
    try:
        wait_until(lambda: len(zk.get_children("/brokers/ids")) == 3, timeout_s=30)
        admin = AdminClient({"bootstrap.servers": ",".join(b.bootstrap for b in brokers)})
        admin.create_topics([NewTopic("txn", 1, 3, config={"min.insync.replicas": "2"})])["txn"].result(10)
        leader = wait_until(lambda: (s := state_of(zk, "txn"))["leader"] >= 0 and s, timeout_s=30)["leader"]
        raw = RawClient(brokers[leader].bootstrap)
        prober, p_epoch = wait_until(lambda: _try_init(raw), timeout_s=30)
        wait_until(lambda: produce_txn(raw, "txn", 0, prober, p_epoch, 0, [b"probe"]).error_code == 0)  # 0
        assert write_markers(raw, prober, p_epoch, True, {"txn": [0]}) == {("txn", 0): ErrorCode.none}  # 1
        aborter, a_epoch = init_producer_id(raw)
        committer, c_epoch = init_producer_id(raw)
        opener, o_epoch = init_producer_id(raw)
        first = produce_txn(raw, "txn", 0, aborter, a_epoch, 0, [b"aborted-1", b"aborted-2"])  # 2-3
        assert (first.error_code, first.base_offset) == (0, 2)
        assert produce_txn(raw, "txn", 0, committer, c_epoch, 0, [b"committed"]).error_code == 0  # 4
        assert write_markers(raw, aborter, a_epoch, False, {"txn": [0]}) == {("txn", 0): ErrorCode.none}  # 5
        assert write_markers(raw, committer, c_epoch, True, {"txn": [0]}) == {("txn", 0): ErrorCode.none}  # 6
        assert produce_txn(raw, "txn", 0, opener, o_epoch, 0, [b"open"]).error_code == 0  # 7
        late, l_epoch = init_producer_id(raw)
        assert produce_txn(raw, "txn", 0, late, l_epoch, 0, [b"late"]).error_code == 0  # 8, aborted later
        raw.close()

        wait_until(lambda: len({_log_bytes(d, "txn") for d in dirs}) == 1, timeout_s=30)
        # every replica indexed the abort from the marker it appended (leader or follower)
        wait_until(lambda: all(len(_txn_index(d, "txn")) == 34 for d in dirs), timeout_s=30)

        old = state_of(zk, "txn")
        brokers[old["leader"]].kill()
        new = wait_until(
            lambda: (s := state_of(zk, "txn"))["leader"] not in (-1, old["leader"]) and s, timeout_s=30
        )
        survivor = brokers[new["leader"]]
        raw = RawClient(survivor.bootstrap)
        try:
            wait_until(lambda: _try_list_offset(raw, 0) == 9, timeout_s=30)
            assert (
                list_offset(raw, "txn", 0, isolation_level=1) == 7
            )  # the open transaction, on the new leader
            committed = consume_values(survivor.bootstrap, "txn", "read_committed", until=7)
            assert committed == [b"probe", b"committed"]
            everything = consume_values(survivor.bootstrap, "txn", "read_uncommitted", until=9)
            assert everything == [b"probe", b"aborted-1", b"aborted-2", b"committed", b"open", b"late"]
            # the new leader ends the open transaction it inherited
            assert write_markers(raw, opener, o_epoch, True, {"txn": [0]}) == {
                ("txn", 0): ErrorCode.none
            }  # 9
            assert list_offset(raw, "txn", 0, isolation_level=1) == 8  # the late one is still open
            assert write_markers(raw, late, l_epoch, False, {"txn": [0]}) == {
                ("txn", 0): ErrorCode.none
            }  # 10
            wait_until(lambda: list_offset(raw, "txn", 0, isolation_level=1) == 11, timeout_s=30)
            committed = consume_values(survivor.bootstrap, "txn", "read_committed", until=11)
            assert committed == [b"probe", b"committed", b"open"]
        finally:
            raw.close()

        # the old leader comes back as a follower: it catches up, indexes the abort it missed, and
        # all three replicas hold the same log and the same two aborted transactions
        brokers[old["leader"]].start()
        wait_until(lambda: sorted(state_of(zk, "txn")["isr"]) == [0, 1, 2], timeout_s=60)
        wait_until(lambda: len({_log_bytes(d, "txn") for d in dirs}) == 1, timeout_s=30)
        wait_until(lambda: {len(_txn_index(d, "txn")) for d in dirs} == {68}, timeout_s=30)
        # (each replica's last_stable_offset field is its own: it counts the transactions it had not
        # seen replicated yet, as Kafka's does)
        expected = [(aborter, 2, 5), (late, 8, 10)]
        for d in dirs:
            assert [
                (t.producer_id, t.first_offset, t.last_offset) for t in decode_entries(_txn_index(d, "txn"))
            ] == expected
    finally:
        for b in brokers:
            b.stop()


def _try_init(raw: RawClient) -> tuple[int, int] | None:
    try:
        return init_producer_id(raw)
    except AssertionError:
        return None  # no producer id block yet (the cluster is still starting)


def _try_list_offset(raw: RawClient, isolation_level: int) -> int:
    try:
        return list_offset(raw, "txn", 0, isolation_level=isolation_level)
    except AssertionError:
        return -1  # not the leader yet
