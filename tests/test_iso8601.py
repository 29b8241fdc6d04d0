"""YouTube's video durations (ISO 8601) read as seconds."""

from __future__ import annotations

import pytest

from integrations.iso8601 import parse_iso8601_duration


def test_parse_iso8601_duration() -> None:
    assert parse_iso8601_duration("PT1H2M3S") == 3723
    assert parse_iso8601_duration("PT59M59S") == 3599
    assert parse_iso8601_duration("P1DT1S") == 86401
    assert parse_iso8601_duration("P0D") == 0  # YouTube while processing: fails verification
    with pytest.raises(ValueError):
        parse_iso8601_duration("1:00:00")
