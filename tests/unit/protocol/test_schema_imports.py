"""A schema is imported on a client's first request of its kind, and that import succeeds when the process is out
of descriptors (EMFILE): the broker holds one back for it. Run in a child process, whose descriptors and imports
the test can exhaust without touching pytest's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent(
    """
    import os, resource, sys
    sys.modules.setdefault("hypothesis", None)
    from brook.protocol import codec

    if sys.argv[1] == "hold":
        codec.hold_descriptor_for_imports()
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    taken = []
    try:
        while True:
            taken.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == 24, exc
    for api_key, version, module in ((1, 12, "fetch"), (3, 9, "metadata"), (19, 5, "create_topics")):
        assert f"kio.schema.{module}.v{version}.request" not in sys.modules  # a first use: an import
        try:
            request = codec.request_class(api_key, version)
            body = codec.encode_body(codec.build(request, {}))
            codec.decode_request_body(api_key, version, body, 0)
            codec.encode_body(codec.build(codec.response_class(api_key, version), {}))
        except OSError as exc:
            print(f"failed {api_key} v{version}: {exc}")
            raise SystemExit(0)
        print(f"loaded {api_key} v{version}")
    """
)


def _run(mode: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1]


def test_a_first_request_of_a_kind_is_decoded_with_no_descriptor_free() -> None:
    assert _run("hold") == ["loaded 1 v12", "loaded 3 v9", "loaded 19 v5"]


def test_without_the_held_descriptor_that_import_fails() -> None:
    out = _run("none")
    assert len(out) == 1, out
    assert out[0].startswith("failed 1 v12: [Errno 24] Too many open files"), out


_NAMING = textwrap.dedent(
    """
    import sys
    sys.modules.setdefault("hypothesis", None)
    from brook.broker import handlers
    from brook.broker.handlers.base import REGISTRY
    from brook.broker.request_metrics import RequestMetrics, api_name

    handlers.load_all()  # as a broker's start does

    def schemas():
        return sorted(m for m in sys.modules if m.startswith("kio.schema.") and m.endswith((".request", ".response")))

    before = schemas()
    RequestMetrics((h.api_key, h.versions) for h in REGISTRY.values())
    names = [api_name(key, REGISTRY[key].versions[-1]) for key in (0, 1, 36)]
    print(len(REGISTRY), *names, sorted(set(schemas()) - set(before)))
    """
)


def test_naming_every_served_api_for_the_request_metrics_imports_no_schema() -> None:
    """A broker names each API it serves at start (the request metrics' series): from kio's index, not by importing
    its ~50 request schemas (0.4 s of a 10,000-partition start here)."""
    done = subprocess.run(
        [sys.executable, "-c", _NAMING], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    served, *names, imported = done.stdout.split(" ", 4)
    assert int(served) > 40
    assert names == ["Produce", "Fetch", "SaslAuthenticate"]
    assert imported.strip() == "[]"
