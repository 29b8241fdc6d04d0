"""Zoom's rate limits as its 429 answers describe them: the limit's kind, and how long a
daily limit (which may name no `Retry-After`) asks to wait. The waiting itself is the shared
policy's (`integrations.http.retry`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from integrations.clock import next_midnight
from integrations.http.retry import parse_retry_after


def is_daily_limit(headers: Mapping[str, str], message: str = "") -> bool:
    """Whether a 429 is Zoom's daily limit: `X-RateLimit-Type: Daily-limit` (per-second limits
    say `QPS`), or only the body's message when the headers are missing."""
    # Header values: Zoom's rate-limit page as quoted on devforum.zoom.us/t/18928 and
    # developers.zoom.us/docs/commerce/rate-limits ("Rate Limit Type ... QPS or a daily limit").
    # Responses without the headers, only "You have exceeded the daily rate limit (100) ...
    # You may resume these requests at GMT 00:00:00.", are reported in that same thread.
    kind = headers.get("X-RateLimit-Type", "").lower()
    return "daily" in kind or "daily rate limit" in message.lower()


def limit_kind(headers: Mapping[str, str]) -> str:
    """Which limit a 429 names (`Medium QPS`, `Heavy Daily-limit`), for messages."""
    named = (headers.get("X-RateLimit-Category"), headers.get("X-RateLimit-Type"))
    return " ".join(p for p in named if p) or "no category given"


def asked_wait(
    headers: Mapping[str, str], message: str = "", now: Callable[[], float] = time.time
) -> float | None:
    """Seconds a 429 (or 5xx) asks to wait: its `Retry-After`; for a daily limit that names no
    time, until the next 00:00 UTC (when Zoom's message says it resets). None: back off."""
    seconds = parse_retry_after(headers.get("Retry-After"), now)
    if seconds is None and is_daily_limit(headers, message):
        moment = now()
        seconds = next_midnight(UTC, datetime.fromtimestamp(moment, UTC)).timestamp() - moment
    return seconds
