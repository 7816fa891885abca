"""docs/grafana/brook-dashboard.json queries only series a real broker's /metrics has.

The broker is given a little of everything first (produce, a consumer group that fetches and commits, a log
flush), so the labelled series exist. Every metric name in every panel's PromQL must be exposed, every label a
panel selects on or groups by must be on that metric, and every label value it matches must occur.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from confluent_kafka import Consumer

from brook.testing import BrookProcess
from tests.integration.helpers import produce_all, wait_until
from tests.integration.metrics_helpers import METRICS_ON, Scrape, metrics_url, scrape

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "brook-dashboard.json"
_METRIC = re.compile(r"\b(?:kafka|brook)_[a-z0-9_]+\b")
_SELECTOR = re.compile(r"\b((?:kafka|brook)_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_GROUPING = re.compile(r"\bby \(([^)]*)\)\s*\(\s*(?:rate\()?\s*((?:kafka|brook)_[a-z0-9_]+)")
_ADDED_BY_PROMETHEUS = {"instance", "job"}


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def expressions(dashboard: dict) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]


def test_the_dashboard_is_valid_grafana_json():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "brook-overview"
    assert dashboard["title"] == "brook"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    charts = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(charts) >= 20
    for p in charts:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"], p["title"]
        assert all(t["expr"] for t in p["targets"]), p["title"]
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]), p["title"]


def busy_broker_scrape(tmp_path: Path) -> Scrape:
    overrides = {**METRICS_ON, "log.flush.interval.messages": "1", "group.initial.rebalance.delay.ms": "1000"}
    with BrookProcess(data_dir=tmp_path / "d", overrides=overrides) as broker:
        url = metrics_url(broker)
        produce_all(broker.bootstrap, "charted", [(b"k%d" % i, b"v") for i in range(20)], acks="all")
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": "charted-group",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.subscribe(["charted"])
            got = 0
            while got < 20:
                message = consumer.poll(1.0)
                if message is not None and message.error() is None:
                    got += 1
            consumer.commit(asynchronous=False)
        finally:
            consumer.close()
        return wait_until(
            lambda: (
                (s := scrape(url)).value("kafka_log_logflushstats_logflushrateandtimems_count") >= 1 and s
            ),
            timeout_s=30,
        )


def test_every_series_the_dashboard_queries_is_on_a_real_brokers_metrics(tmp_path):
    exprs = expressions(json.loads(DASHBOARD.read_text()))
    s = busy_broker_scrape(tmp_path)
    exposed = s.names()
    for expr in exprs:
        for name in _METRIC.findall(expr):
            assert name in exposed, f"{name} (in {expr}) is not on /metrics"
        for name, matchers in _SELECTOR.findall(expr):
            for label, value in _MATCHER.findall(matchers):
                values = {dict(labels).get(label) for labels in s.labelled(name)}
                assert value in values, f"no {name} series with {label}={value!r} (in {expr})"
        for grouping, name in _GROUPING.findall(expr):
            wanted = {g.strip() for g in grouping.split(",")} - _ADDED_BY_PROMETHEUS - {"le"}
            series = s.labelled(name)
            assert series, f"{name} has no series (in {expr})"
            for label in wanted:
                assert any(label in dict(labels) for labels in series), (
                    f"{name} has no label {label} (in {expr})"
                )
    # the group's lag series are there, and the group consumed everything
    assert (
        s.value("kafka_consumergroup_lag", consumergroup="charted-group", topic="charted", partition="0") == 0
    )
    assert s.value("kafka_server_brokertopicmetrics_messagesin_total", topic="charted") == 20
    # the JoinGroup of a new group waits group.initial.rebalance.delay.ms (1 s here): remote, not local, time
    assert s.value("kafka_network_requestmetrics_remotetimems_sum", request="JoinGroup") >= 1000
    assert s.value("kafka_network_requestmetrics_localtimems_sum", request="JoinGroup") < 1000
