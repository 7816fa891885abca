"""Fixtures of the Java client tests: one brook broker and one driver JVM per kafka-clients version, per module.

Every test uses topics and groups of its own (the `names` fixture), so tests share the broker and the JVM.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from brook.testing import BrookProcess
from tests.integration.java.driver import JAVA_CLIENT_VERSIONS, JavaDriver

_names = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with BrookProcess(data_dir=tmp_path_factory.mktemp("brook")) as b:
        yield b


@pytest.fixture(scope="module", params=JAVA_CLIENT_VERSIONS)
def java(request: pytest.FixtureRequest, broker: BrookProcess) -> Iterator[JavaDriver]:
    driver = JavaDriver(request.param)
    try:
        assert driver.client_version == request.param
        driver.call("admin_open", config={"bootstrap.servers": broker.bootstrap})
        yield driver
    finally:
        driver.close()


@pytest.fixture
def names(java: JavaDriver) -> Any:
    """Fresh topic/group names for this test: names("topic") -> "topic-4.4.0-7"."""
    return lambda prefix: f"{prefix}-{java.version}-{next(_names)}"
