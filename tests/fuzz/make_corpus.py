"""Writes the fuzzer's seed corpus (tests/fuzz/corpus): real client frames and generated requests.

- every frame captured from a real client (tests/fixtures/frames), in the raw shape;
- for every advertised API/version, requests generated from its schema (tests/fixtures/request_gen.py)
  in the selector shape, so the fuzzer starts from a valid body of each.
Run again after the advertised versions change:  python tests/fuzz/make_corpus.py
"""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

from brook.protocol import codec
from tests.fixtures.request_gen import random_body
from tests.fuzz.fuzz_requests import API_VERSIONS, RAW

HERE = Path(__file__).parent
FRAMES = HERE.parent / "fixtures" / "frames"
CORPUS = HERE / "corpus"
PER_VERSION = 2


def seeds() -> list[bytes]:
    out = [struct.pack(">H", RAW) + path.read_bytes() for path in sorted(FRAMES.glob("*_request_v*.bin"))]
    for index, (api_key, version) in enumerate(API_VERSIONS):
        if api_key == 0 and version < 3:
            continue  # no schema of its own (answered by hand); the raw seeds cover its header
        tagged = b"\x00" if codec.is_flexible_request(api_key, version) else b""
        for seed in range(PER_VERSION):
            body, _ = random_body(api_key, version, random.Random(seed))
            out.append(struct.pack(">H", index) + tagged + body)
    return out


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for data in seeds():
        (CORPUS / hashlib.sha1(data).hexdigest()).write_bytes(data)


if __name__ == "__main__":
    main()
