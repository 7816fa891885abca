"""kafka-configs.sh's syntax for config values on the command line.

`--add-config 'retention.ms=1000,segment.bytes=2000000'` sets two configs; a list value goes in square
brackets, `cleanup.policy=[compact,delete]`, and reaches the broker as `compact,delete`. The split is on
commas outside brackets, as ConfigCommand does. brook also keeps the older unbracketed form
`cleanup.policy=compact,delete` working: a comma-separated piece without `=` continues the value before it
(Kafka's script refuses that form). Deletions (`--delete-config a,b`) are comma lists too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import click

__all__ = ["parse_config_deletes", "parse_config_pairs"]

# A comma followed by no `]` before the next `[` or the end: a comma outside brackets.
_TOP_LEVEL_COMMA = re.compile(r",(?=[^\]]*(?:\[|$))")


def parse_config_pairs(values: Iterable[str], option: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    continues = False  # may the next piece without `=` extend the last value?
    for value in values:
        for piece in _TOP_LEVEL_COMMA.split(value):
            key, sep, val = piece.partition("=")
            if not sep:
                if continues and piece.strip():
                    last_key, last_value = pairs[-1]
                    pairs[-1] = (last_key, f"{last_value},{piece.strip()}")
                    continue
                raise click.BadParameter(f"expected key=value, got {piece!r}", param_hint=option)
            key, val = key.strip(), val.strip()
            if not key:
                raise click.BadParameter(f"expected key=value, got {piece!r}", param_hint=option)
            bracketed = val.startswith("[") and val.endswith("]")
            pairs.append((key, val[1:-1] if bracketed else val))
            continues = not bracketed
        continues = False
    return pairs


def parse_config_deletes(values: Iterable[str]) -> list[str]:
    return [key.strip() for value in values for key in value.split(",") if key.strip()]
