"""`brook console` pointed at an address where no broker listens: the pages still answer, quickly, and say
what is wrong."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from tests.console.conftest import ConsoleProcess, wait_until

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pages_show_the_clusters_error_without_hanging():
    console = ConsoleProcess(f"127.0.0.1:{_closed_port()}", "--timeout", "2", "--interval", "1")
    try:

        def overview() -> str:
            with urllib.request.urlopen(console.url + "/", timeout=30) as response:
                assert response.status == 200
                return str(response.read().decode())

        body = wait_until(lambda: "cluster-error" in (page := overview()) and page, 30, "the error shown")
        assert "Metadata:" in body
        for page in ("/topics", "/groups"):
            started = time.monotonic()
            with urllib.request.urlopen(console.url + page, timeout=30) as response:
                assert response.status == 200
                assert "cluster-error" in response.read().decode()
            assert time.monotonic() - started < 2.0  # rendered from the last sample, not a new wait
    finally:
        console.stop()
