"""brook.testing.checker: the figures a fault-injection run reports, on hand-made histories."""

from brook.testing.checker import (
    Ack,
    CommitAck,
    CommitRead,
    check,
    commit_regressions,
    longest_gap_s,
    parse_value,
)

TP = ("orders", 0)


def acks_for(log, time_s=0.0):
    return [Ack("orders", 0, offset, value, time_s) for offset, value in log]


def test_a_clean_history_has_no_anomalies():
    log = [(0, b"a:0"), (1, b"b:0"), (2, b"a:1"), (3, b"b:1")]
    report = check(acks_for(log), {TP: log})
    assert report.anomalies == 0
    assert (report.acked, report.read) == (4, 4)


def test_an_acked_offset_holding_another_producers_value_is_lost_and_inconsistent():
    acked = [(0, b"a:0"), (1, b"a:1")]
    read = [(0, b"a:0"), (1, b"b:7")]  # a failover replaced offset 1
    report = check(acks_for(acked), {TP: read})
    assert report.lost == 1
    assert report.inconsistent_offsets == 1
    assert report.examples["lost"] == ["orders-0@1 b'a:1'"]


def test_a_value_read_back_at_another_offset_is_inconsistent_but_not_lost():
    report = check(acks_for([(1, b"a:0")]), {TP: [(0, b"x:0"), (1, b"x:1"), (2, b"a:0")]})
    assert report.lost == 0
    assert report.inconsistent_offsets == 1


def test_a_value_in_another_partition_is_still_lost_from_its_own():
    report = check(acks_for([(0, b"a:0")]), {TP: [], ("orders", 1): [(0, b"a:0")]})
    assert report.lost == 1


def test_copies_beyond_the_first_are_duplicates_whether_acked_or_not():
    log = [(0, b"a:0"), (1, b"a:0"), (2, b"a:0"), (3, b"b:0"), (4, b"b:0")]
    report = check(acks_for([(0, b"a:0")]), {TP: log})
    assert report.duplicated == 3
    assert report.duplicated_values == 2
    assert report.reordered == 0  # a duplicate is not also a reordering


def test_a_producer_value_after_a_later_one_is_reordered():
    log = [(0, b"a:0"), (1, b"a:2"), (2, b"b:0"), (3, b"a:1"), (4, b"a:3")]
    report = check([], {TP: log})
    assert report.reordered == 1
    assert report.examples["reordered"] == ["orders-0@3 b'a:1' after sequence 2"]


def test_order_is_per_producer_and_per_partition():
    logs = {TP: [(0, b"a:5"), (1, b"b:0")], ("orders", 1): [(0, b"a:1")]}
    assert check([], logs).reordered == 0


def test_values_in_another_format_are_not_ordered():
    assert parse_value(b"no-sequence") is None
    assert parse_value(b"p-1:0042") == ("p-1", 42)
    assert check([], {TP: [(0, b"z"), (1, b"y")]}).reordered == 0


def test_a_committed_offset_read_back_below_an_acknowledged_commit_is_a_regression():
    commits = [CommitAck("orders", 0, 2283, 10.0), CommitAck("orders", 0, 2300, 11.0)]
    reads = [
        CommitRead("orders", 0, 2252, 12.0),  # went backwards
        CommitRead("orders", 0, 2283, 10.5),  # as committed at that time
        CommitRead("orders", 0, 100, 9.0),  # read before any commit was acknowledged
        CommitRead("orders", 1, 0, 12.0),  # another partition
    ]
    found = commit_regressions(commits, reads)
    assert found == [(reads[0], 2300)]
    assert check([], {}, commits, reads).commit_regressions == 1


def test_longest_gap_counts_the_window_edges():
    assert longest_gap_s([2.0, 3.0, 9.5], 0.0, 10.0) == 6.5
    assert longest_gap_s([], 0.0, 10.0) == 10.0
    assert longest_gap_s([1.0, 2.0], 0.0, 12.0) == 10.0
    assert longest_gap_s([-5.0, 4.0, 20.0], 0.0, 5.0) == 4.0


def test_check_reports_the_longest_gap_over_the_window():
    acked = [Ack("orders", 0, 0, b"a:0", 1.0), Ack("orders", 0, 1, b"a:1", 8.0)]
    report = check(acked, {TP: [(0, b"a:0"), (1, b"a:1")]}, window=(0.0, 10.0))
    assert report.longest_gap_s == 7.0
    assert report.anomalies == 0
    assert "longest_gap_s=7.0" in report.summary()


def test_an_ack_without_an_offset_is_counted_apart_and_still_checked_for_loss():
    acked = [Ack("orders", 0, -1, b"a:0"), Ack("orders", 0, -1, b"a:1")]
    report = check(acked, {TP: [(0, b"a:0")]})
    assert report.acked_without_offset == 2
    assert report.inconsistent_offsets == 0
    assert report.lost == 1
