from brook.coordinator import offsets_topic as ot


def test_java_string_hashcode_matches_java():
    assert ot.java_string_hashcode("") == 0
    assert ot.java_string_hashcode("hello") == 99162322
    assert ot.java_string_hashcode("polygenelubricants") == -(2**31)
    assert ot.java_string_hashcode("\U0001f600") == 31 * 0xD83D + 0xDE00  # UTF-16 surrogates


def test_partition_for_uses_kafka_abs():
    assert ot.partition_for("polygenelubricants", 50) == 0  # Utils.abs(MIN_VALUE) == 0
    assert ot.partition_for("hello", 50) == 99162322 % 50
    negative = "console-consumer-1"
    assert ot.partition_for(negative, 50) == abs(ot.java_string_hashcode(negative)) % 50
    assert (
        ot.partition_for(negative, 50) == abs(ot.java_string_hashcode(negative)) % 50
    )  # remembered: the same
    long_id = "transactional-" * 30  # past the remembered length: computed each time, the same rule
    assert ot.partition_for(long_id, 50) == abs(ot.java_string_hashcode(long_id)) % 50


def test_offset_commit_records_round_trip():
    key = ot.encode_offset_commit_key("g", "t", 3)
    assert key == b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x03"
    assert ot.decode_key(key) == ot.OffsetCommitKey("g", "t", 3)
    value = ot.OffsetCommitValue(42, 7, "meta", 1_700_000_000_000)
    encoded = ot.encode_offset_commit_value(value)
    assert encoded[:2] == b"\x00\x03"
    assert ot.decode_offset_commit_value(encoded) == value
    expiring = ot.OffsetCommitValue(42, -1, "", 1000, 5000)
    assert ot.encode_offset_commit_value(expiring)[:2] == b"\x00\x01"
    assert ot.decode_offset_commit_value(ot.encode_offset_commit_value(expiring)) == expiring


def test_group_metadata_records_round_trip():
    assert ot.decode_key(ot.encode_group_metadata_key("grp")) == ot.GroupMetadataKey("grp")
    value = ot.GroupMetadataValue(
        "consumer",
        5,
        "range",
        "m1",
        123,
        [ot.MemberRecord("m1", "i1", "c", "/1.2.3.4", 30000, 10000, b"sub", b"assign")],
    )
    encoded = ot.encode_group_metadata_value(value)
    assert encoded[:2] == b"\x00\x03"
    assert ot.decode_group_metadata_value(encoded) == value


def test_subscribed_topics_parses_consumer_protocol_and_rejects_garbage():
    sub = b"\x00\x01" + b"\x00\x00\x00\x02" + b"\x00\x01a" + b"\x00\x02bc" + b"\xff\xff\xff\xff"
    assert ot.subscribed_topics(sub) == {"a", "bc"}
    assert ot.subscribed_topics(b"\x00") is None
    assert ot.subscribed_topics(b"\x00\x01\x7f\xff\xff\xff") is None
