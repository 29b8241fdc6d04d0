"""Day boundaries of the outside services: when a daily limit or quota is taken to reset."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def next_midnight(zone: tzinfo, now: datetime | None = None) -> datetime:
    """The coming midnight in `zone` (aware), after `now` (default: the current time)."""
    local = (now or datetime.now(zone)).astimezone(zone)
    tomorrow = local.date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)
