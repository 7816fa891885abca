"""ListOffsets v0's offsets array (Kafka's UnifiedLog.legacyFetchOffsetsBefore + Partition's high watermark cap)."""

from brook.broker.handlers.list_offsets import EARLIEST, LATEST, legacy_offsets_before

# three segments starting at 0, 100, 200 (newest record times 10, 20, 30), log end 250 at time 40
POINTS = [(0, 10), (100, 20), (200, 30), (250, 40)]


def test_latest_is_the_log_end_then_segment_bases_newest_first() -> None:
    assert legacy_offsets_before(POINTS, LATEST, 1, high_watermark=250) == [250]
    assert legacy_offsets_before(POINTS, LATEST, 3, high_watermark=250) == [250, 200, 100]
    assert legacy_offsets_before(POINTS, LATEST, 100, high_watermark=250) == [250, 200, 100, 0]


def test_earliest_is_the_first_point_only() -> None:
    assert legacy_offsets_before(POINTS, EARLIEST, 1, high_watermark=250) == [0]
    assert legacy_offsets_before(POINTS, EARLIEST, 5, high_watermark=250) == [0]


def test_a_timestamp_finds_segments_whose_time_is_not_after_it() -> None:
    assert legacy_offsets_before(POINTS, 25, 1, high_watermark=250) == [100]
    assert legacy_offsets_before(POINTS, 25, 2, high_watermark=250) == [100, 0]
    assert legacy_offsets_before(POINTS, 5, 1, high_watermark=250) == []  # before every segment
    assert legacy_offsets_before(POINTS, 10**13, 1, high_watermark=250) == [250]


def test_a_consumer_sees_nothing_above_the_high_watermark() -> None:
    assert legacy_offsets_before(POINTS, LATEST, 1, high_watermark=230) == [230]
    assert legacy_offsets_before(POINTS, LATEST, 3, high_watermark=150) == [150, 100]
    assert legacy_offsets_before(POINTS, LATEST, 0, high_watermark=250) == []


def test_an_empty_log() -> None:
    assert legacy_offsets_before([(0, -1)], LATEST, 1, high_watermark=0) == [0]
    assert legacy_offsets_before([(0, -1)], EARLIEST, 1, high_watermark=0) == [0]
