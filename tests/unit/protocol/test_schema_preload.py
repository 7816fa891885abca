"""Every advertised API version's schema is loaded at broker start, so a first request of a kind needs no
import (an import under EMFILE failed and closed the client's connection)."""

from __future__ import annotations

import importlib
import sys

import pytest
from kio.index import UnknownEntity

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.protocol import codec


def test_after_preload_no_request_needs_an_import(monkeypatch: pytest.MonkeyPatch) -> None:
    handlers.load_all()
    loaded = codec.preload((h.api_key, h.versions) for h in REGISTRY.values())
    assert loaded > len(REGISTRY)  # several versions of most APIs
    modules = set(sys.modules)

    def out_of_descriptors(name: str, package: str | None = None) -> object:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(importlib, "import_module", out_of_descriptors)
    monkeypatch.setattr(sys, "meta_path", [])  # any import statement fails now too
    kio_versions = 0
    for handler in REGISTRY.values():
        for version in handler.versions:
            try:
                request = codec.request_class(handler.api_key, version)
            except UnknownEntity:
                continue  # versions kio has no classes for are decoded by hand (connection.py)
            kio_versions += 1
            codec.is_flexible_request(handler.api_key, version)
            codec._reader(request)
            codec._writer(codec.response_class(handler.api_key, version))
    assert kio_versions == loaded
    assert set(sys.modules) == modules
