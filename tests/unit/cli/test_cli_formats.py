"""Pure decisions of produce/consume: Kafka's line reader, Kafka's record layout, auto.offset.reset."""

from __future__ import annotations

import re
from types import SimpleNamespace

import click
import pytest

from brook.cli.consume_offsets import EARLIEST, LATEST, NONE, decide_reset, parse_offset, tail_start
from brook.cli.line_reader import LineError, line_format, parse_line
from brook.cli.record_format import KafkaLayout, kafka_layout, parse_consumer_properties


class Msg(SimpleNamespace):
    def key(self):
        return self.k

    def value(self):
        return self.v

    def partition(self):
        return 3

    def offset(self):
        return 7

    def timestamp(self):
        return (1, 1000)

    def headers(self):
        return self.h


def test_kafka_layout_prints_null_key_no_headers_and_k_colon_v_headers():
    layout, _ = parse_consumer_properties([("print.key", "true"), ("print.headers", "true")])
    assert layout is not None
    assert kafka_layout(layout, Msg(k=None, v=b"v", h=None)) == "NO_HEADERS\tnull\tv\n"
    assert kafka_layout(layout, Msg(k=b"k", v=None, h=[("a", b"1"), ("b", None)])) == "a:1,b:null\tk\tnull\n"
    every = KafkaLayout(
        print_timestamp=True, print_partition=True, print_offset=True, print_value=False, key_separator="|"
    )
    assert kafka_layout(every, Msg(k=b"k", v=b"v", h=None)) == "CreateTime:1000|Partition:3|Offset:7\n"


def test_consumer_properties_refuse_unknown_keys_and_non_booleans():
    with pytest.raises(click.BadParameter, match=re.escape("unknown property 'print.bogus'")):
        parse_consumer_properties([("print.bogus", "true")])
    with pytest.raises(click.BadParameter, match=re.escape("print.key takes true or false")):
        parse_consumer_properties([("print.key", "yes")])
    layout, other = parse_consumer_properties([("print.value", "FALSE"), ("auto.offset.reset", "earliest")])
    assert layout == KafkaLayout(print_value=False)
    assert other == {"auto.offset.reset": "earliest"}


def test_line_reader_parses_headers_key_value_and_null_marker():
    fmt = line_format([("parse.headers", "true"), ("parse.key", "true"), ("null.marker", "NULL")], None)
    record = parse_line(b"h1:v1,h2:NULL\tk\tval", 1, fmt)
    assert (record.key, record.value, record.headers) == (b"k", b"val", [("h1", b"v1"), ("h2", None)])
    record = parse_line(b"NULL\tNULL\tNULL", 2, fmt)
    assert (record.key, record.value, record.headers) == (None, None, [])
    with pytest.raises(LineError, match=re.escape("no headers delimiter found on line number 3")):
        parse_line(b"novalue", 3, fmt)
    assert parse_line(b"a:b", 1, line_format([], ":")).key == b"a"


def test_line_reader_refuses_what_kafkas_refuses():
    with pytest.raises(click.BadParameter, match=re.escape("unknown property")):
        line_format([("parse.kye", "true")], None)
    with pytest.raises(click.BadParameter, match=re.escape("parse.headers takes true or false")):
        line_format([("parse.headers", "1")], None)
    with pytest.raises(
        click.BadParameter, match=re.escape("headers.separator and headers.key.separator may not be equal")
    ):
        line_format([("parse.headers", "true"), ("headers.key.separator", ",")], None)
    with pytest.raises(click.BadParameter, match=re.escape("null.marker and key.separator")):
        line_format([("parse.key", "true"), ("null.marker", "\t")], None)


def test_reset_decisions_follow_auto_offset_reset():
    assert decide_reset(LATEST, "t", 0, 2, 5, 10).resume == 10
    early = decide_reset(EARLIEST, "t", 0, 2, 5, 10)
    assert early.resume == 5
    assert (
        early.message
        == "t/0: offset 2 is out of range (log start 5, log end 10); auto.offset.reset=earliest resumes at offset 5"
    )
    strict = decide_reset(NONE, "t", 1, 20, 5, 10)
    assert strict.resume is None
    assert "t/1: offset 20 is out of range" in strict.message
    assert decide_reset(EARLIEST, "t", 0, None, 5, 10).resume == 5
    assert decide_reset(LATEST, "t", 0, None, 5, 10).message == ""  # no committed offset: silent
    assert decide_reset(NONE, "t", 0, None, 5, 10).resume is None


def test_tail_offsets_never_start_before_the_log_start():
    assert tail_start(parse_offset("-3"), 5, 10) == 7
    assert tail_start(parse_offset("-100"), 5, 10) == 5
    assert tail_start(parse_offset("4"), 5, 10) is None
