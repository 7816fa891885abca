"""Reading the console's form fields: whole numbers, key=value lines, timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from brook.console.operations import ConsoleError

__all__ = ["form_int", "key_values", "timestamp_ms"]


def form_int(form: Any, name: str, default: int | None = None) -> int:
    raw = str(form.get(name, "")).strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConsoleError(f"{name} must be a whole number, got {raw!r}") from None


def key_values(text: str, what: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        if line.strip():
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ConsoleError(f"{what}: expected key=value, got {line.strip()!r}")
            pairs[key.strip()] = value.strip()
    return pairs


def timestamp_ms(text: str) -> int:
    """Milliseconds since the epoch from a number (ms) or an ISO date-time (local time unless it has a
    zone), as <input type=datetime-local> sends it."""
    text = text.strip()
    if not text:
        raise ConsoleError("give a timestamp (milliseconds or a date and time)")
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConsoleError(f"not a timestamp: {text!r}") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return int(when.timestamp() * 1000)
