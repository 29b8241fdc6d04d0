"""ISO 8601 durations, as YouTube reports a video's length (`contentDetails.duration`)."""

from __future__ import annotations

import re

_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_iso8601_duration(value: str) -> float:
    """YouTube's `contentDetails.duration` (`PT1H2M3S`, `P0D` while processing) in seconds."""
    match = _ISO_DURATION.match(value.strip())
    if not match or value.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {value!r}")
    days, hours, minutes = (int(match.group(k) or 0) for k in "dhm")
    return ((days * 24 + hours) * 60 + minutes) * 60 + float(match.group("s") or 0)
