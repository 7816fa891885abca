"""The console's pages on a broker with 1,000 partitions (one topic, and a group committed on all of them):
every page answers and shows every partition. How fast they answer is measured in bench/console_bench.py
(part of `make bench`), not here: a time limit in a test measures the machine's load as much as the console."""

from __future__ import annotations

import pytest

from tests.console.conftest import WIDE_PAGES, get_page, wide_console

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_PARTITIONS = 1000


def test_every_page_answers_with_1000_partitions(tmp_path):
    with wide_console(tmp_path / "data", _PARTITIONS) as (_, url):
        for page in WIDE_PAGES:
            status, _, body = get_page(url + page)
            assert status == 200
            if page == "/topics/wide":
                assert body.count('data-partition="') == _PARTITIONS
            if page == "/groups/wide-group":
                assert body.count('data-tp="wide/') == _PARTITIONS
