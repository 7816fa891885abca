"""Prometheus metrics at /metrics reflect what the broker did."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from brook.testing import BrookProcess
from tests.integration.helpers import produce_all


def test_metrics_endpoint_reports_partition_offsets_and_requests(tmp_path):
    with BrookProcess(data_dir=tmp_path / "d", overrides={"brook.metrics.port": "0"}) as broker:
        assert broker.wait_for_log("metrics listening")
        match = re.search(r"metrics listening on (http://\S+/metrics)", broker.log_text())
        assert match
        produce_all(broker.bootstrap, "m", [(None, b"x")] * 5)
        body = urllib.request.urlopen(match.group(1), timeout=5).read().decode()
        assert 'kafka_log_log_end_offset{partition="0",topic="m"} 5.0' in body
        assert 'kafka_cluster_partition_high_watermark{partition="0",topic="m"} 5.0' in body
        requests = float(re.search(r"^brook_requests_total (\S+)$", body, re.M).group(1))
        assert requests >= 3
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(match.group(1).replace("/metrics", "/nope"), timeout=5)
        missing.value.close()  # the error holds the response's socket: close it, not the garbage collector


def test_metrics_listen_on_their_own_host_not_the_listener(tmp_path):
    # The client listener is 127.0.0.1; brook.metrics.host puts /metrics on another address only.
    overrides = {"brook.metrics.port": "0", "brook.metrics.host": "127.0.0.3"}
    with BrookProcess(data_dir=tmp_path / "d", overrides=overrides) as broker:
        assert broker.wait_for_log("metrics listening")
        match = re.search(r"metrics listening on http://127\.0\.0\.3:(\d+)/metrics", broker.log_text())
        assert match, broker.log_text()
        port = match.group(1)
        body = urllib.request.urlopen(f"http://127.0.0.3:{port}/metrics", timeout=5).read().decode()
        assert "brook_requests_total" in body
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
