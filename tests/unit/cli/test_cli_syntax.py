"""Kafka's command-line syntaxes the CLI parses: kafka-configs.sh values, kafka-delete-records.sh's JSON,
kafka-consumer-groups.sh's reset CSV and --by-duration."""

from __future__ import annotations

import io
import re

import click
import pytest

from brook.cli.config_syntax import parse_config_deletes, parse_config_pairs
from brook.cli.group_reset import as_topic_specs, duration_ms, export_csv, read_reset_file
from brook.cli.topic_records import parse_offset_json


def test_config_pairs_split_on_commas_outside_brackets():
    assert parse_config_pairs(["retention.ms=1000,segment.bytes=2000000"], "--add-config") == [
        ("retention.ms", "1000"),
        ("segment.bytes", "2000000"),
    ]
    assert parse_config_pairs(["cleanup.policy=[compact,delete],retention.ms=1"], "--add-config") == [
        ("cleanup.policy", "compact,delete"),
        ("retention.ms", "1"),
    ]
    # brook's older unbracketed list keeps working
    assert parse_config_pairs(["cleanup.policy=compact,delete"], "--add-config") == [
        ("cleanup.policy", "compact,delete")
    ]
    with pytest.raises(click.BadParameter, match=re.escape("expected key=value, got 'x'")):
        parse_config_pairs(["x"], "--add-config")
    with pytest.raises(click.BadParameter, match=re.escape("got 'delete'")):
        parse_config_pairs(["a=[1,2],delete"], "--add-config")
    assert parse_config_deletes(["a,b", "c"]) == ["a", "b", "c"]


def test_offset_json_is_kafkas_format():
    doc = '{"partitions": [{"topic": "t", "partition": 0, "offset": -1}, {"topic": "t", "partition": 1, "offset": 5}], "version": 1}'
    assert parse_offset_json(doc, "f.json") == [("t", 0, -1), ("t", 1, 5)]
    for bad, message in [
        ("{", "is not JSON"),
        ('{"partitions": []}', "expected"),
        ('{"partitions": [{"partition": 0, "offset": 1}]}', "without a topic"),
        ('{"partitions": [{"topic": "t", "partition": 0, "offset": -2}]}', "offset must be >= -1"),
        (
            '{"partitions": [{"topic": "t", "partition": 0, "offset": 1}, {"topic": "t", "partition": 0, "offset": 2}]}',
            "twice",
        ),
    ]:
        with pytest.raises(click.BadParameter, match=re.escape(message)):
            parse_offset_json(bad, "f.json")


def test_durations_are_java_durations_in_milliseconds():
    assert duration_ms("PT1H") == 3_600_000
    assert duration_ms("P1DT2H3M4.5S") == 93_784_500
    assert duration_ms("pt30m") == 1_800_000
    for bad in ("1h", "P", "PT", "-PT1H", "PT0S"):
        with pytest.raises(click.BadParameter):
            duration_ms(bad)


def test_reset_csv_round_trips_for_one_and_several_groups():
    rows = [
        {"group": "g1", "topic": "t", "partition": 0, "new_offset": 5},
        {"group": "g2", "topic": "u", "partition": 1, "new_offset": 7},
    ]
    assert export_csv(rows[:1], several_groups=False) == "t,0,5"
    several = export_csv(rows, several_groups=True)
    assert several == "g1,t,0,5\ng2,u,1,7"
    assert read_reset_file(io.StringIO(several), ["g1", "g2"]) == {"g1": {("t", 0): 5}, "g2": {("u", 1): 7}}
    assert read_reset_file(io.StringIO("t,0,5\nt,2,1\n"), ["g"]) == {"g": {("t", 0): 5, ("t", 2): 1}}
    assert as_topic_specs({("t", 2): 1, ("t", 0): 5, ("u", 1): 0}) == ("t:0,2", "u:1")
    with pytest.raises(click.BadParameter, match="exactly one --group"):
        read_reset_file(io.StringIO("t,0,5\n"), ["a", "b"])
    with pytest.raises(click.BadParameter, match="must be numbers"):
        read_reset_file(io.StringIO("t,zero,5\n"), ["g"])
