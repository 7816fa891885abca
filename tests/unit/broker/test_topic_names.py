"""Topic names follow Kafka's rule exactly: [a-zA-Z0-9._-], 1 to 249 characters, not "." or ".."."""

from __future__ import annotations

import pytest

from brook.broker.topics import validate_topic_name
from brook.common.errors import InvalidTopic


@pytest.mark.parametrize("name", ["a", "abc-DEF_1.2", "x" * 249, "__consumer_offsets", "..."])
def test_legal_names_are_accepted(name: str) -> None:
    assert validate_topic_name(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "abc\n", "\nabc", "ab c", "abc/", "é", "x" * 250, "abc\x00", "a\tb"]
)
def test_illegal_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidTopic):
        validate_topic_name(name)
