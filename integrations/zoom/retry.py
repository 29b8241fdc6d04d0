"""Retry timing shared by the Zoom client and the downloader: backoff with jitter, `Retry-After`
(seconds, an HTTP date or ISO-8601), and the patience beyond which a run does not wait.

The clock and the sleep are injectable so tests observe every wait without sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from integrations.clock import next_midnight
from integrations.errors import IntegrationError


class WaitTooLong(IntegrationError):  # noqa: N818 - a verdict on the wait, not a failure
    """A server asked for a longer wait than the policy's patience: come back at `resume_at`.

    Not `retryable`: a retry within the run cannot help; a run after `resume_at` can.
    """

    retryable = False

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.resume_at = resume_time(seconds)
        super().__init__(
            f"the server accepts requests again at {self.resume_at:%Y-%m-%dT%H:%M:%SZ} (in "
            f"{describe_wait(seconds)}), later than this run waits; a later run goes on"
        )


@dataclass
class RetryPolicy:
    """How often and how long to retry.

    `attempts` is the total number of tries of one request (not the number of retries). The
    n-th retry waits `backoff_base * 2**(n-1)` seconds, capped at `backoff_max`, scaled by a
    jitter factor in [0.5, 1.0]. A `Retry-After` is honoured as given, unless it is longer than
    `max_retry_after` (the run's patience): then the caller gives up at once and reports when
    to come back.
    """

    attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    @classmethod
    def from_settings(cls, **overrides: Any) -> RetryPolicy:
        """A policy with `http_retry_attempts`, `http_backoff_base` and `rate_limit_patience`
        from the settings."""
        from config.settings import get_settings

        settings = get_settings()
        values: dict[str, Any] = {
            "attempts": settings.http_retry_attempts,
            "backoff_base": settings.http_backoff_base,
            "max_retry_after": settings.rate_limit_patience,
        }
        values.update(overrides)
        return cls(**values)

    def backoff(self, failure: int) -> float:
        """Seconds to wait after the `failure`-th consecutive failure (1-based)."""
        raw = min(self.backoff_max, self.backoff_base * 2 ** max(0, failure - 1))
        return raw * (0.5 + 0.5 * self.jitter())

    def exceeds_patience(self, seconds: float) -> bool:
        """Whether a server's wait is longer than this policy waits out within one call."""
        return seconds > self.max_retry_after

    def wait(self, failure: int, retry_after: float | None = None) -> float:
        """Sleep before the next try and return how long; `Retry-After` wins over backoff.
        A `Retry-After` beyond the patience raises `WaitTooLong` instead of sleeping."""
        if retry_after is not None and self.exceeds_patience(retry_after):
            raise WaitTooLong(retry_after)
        delay = retry_after if retry_after is not None else self.backoff(failure)
        if delay > 0:
            self.sleep(delay)
        return delay


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds, an HTTP date, or an ISO-8601 time
    (Zoom's daily limits send `2020-05-31T00:00:00Z`); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = _parse_time(value)
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def _parse_time(value: str) -> datetime | None:
    """An HTTP date (RFC 9110) or an ISO-8601 time; a time without a zone is taken as UTC."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def resume_time(seconds: float, now: Callable[[], float] = time.time) -> datetime:
    """The UTC time `seconds` from now, to the second (`Retry-After`'s resolution): when a
    server that asked for that wait accepts requests again."""
    return datetime.fromtimestamp(round(now() + seconds), UTC)


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


def describe_wait(seconds: float) -> str:
    """A wait for people: `45 s`, `12 min`, `9 h 05 min`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
