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
