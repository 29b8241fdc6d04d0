"""The one retry policy of every HTTP client here (Zoom, the downloader, YouTube, VK).

- `attempts` is the total number of tries of one request, the first included: 5 means one try
  and at most four retries, in every client.
- The n-th consecutive failure waits `backoff_base * 2**(n-1)` seconds, capped at
  `backoff_max`, times a jitter factor drawn from [0.5, 1.0] ("equal jitter": clients that fail
  together spread out, and none retries at once against a server that just said 503).
- A server's `Retry-After` (delta-seconds, an HTTP date, or the ISO-8601 time Zoom's daily
  limits send) is waited as given, without jitter, up to `max_retry_after` (the run's patience,
  `RATE_LIMIT_PATIENCE`); a longer wait is not slept through: `wait` raises `WaitTooLong` with
  the time to come back, and the caller defers the work to a later run.

A client keeps its own loop (what counts as a failure, a token to refresh, an upload session to
ask) and asks the policy only `exhausted(failures)` and `wait(failures, retry_after)`. Time is
injected: `sleep` (tests record the waits instead of sleeping), `now` (the wall clock that HTTP
dates are read against) and `jitter`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from integrations.errors import IntegrationError


class WaitTooLong(IntegrationError):  # noqa: N818 - a verdict on the wait, not a failure
    """A server asked for a longer wait than the policy's patience: come back at `resume_at`.

    Not `retryable`: a retry within the run cannot help; a run after `resume_at` can.
    """

    def __init__(self, seconds: float, now: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self.resume_at = resume_time(seconds, now)
        super().__init__(
            f"the server accepts requests again at {self.resume_at:%Y-%m-%dT%H:%M:%SZ} (in "
            f"{describe_wait(seconds)}), later than this run waits; a later run goes on"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one request is retried (see the module's docstring)."""

    attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    now: Callable[[], float] = field(default=time.time, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts counts the first try too: at least 1, not {self.attempts}")

    @classmethod
    def from_settings(cls, **overrides: Any) -> RetryPolicy:
        """A policy with `HTTP_RETRY_ATTEMPTS`, `HTTP_BACKOFF_BASE` and `RATE_LIMIT_PATIENCE`
        from the settings, and `overrides` on top."""
        from config.settings import get_settings

        settings = get_settings()
        values: dict[str, Any] = {
            "attempts": settings.http_retry_attempts,
            "backoff_base": settings.http_backoff_base,
            "max_retry_after": settings.rate_limit_patience,
        }
        values.update(overrides)
        return cls(**values)

    def slower(self, factor: float) -> RetryPolicy:
        """The same policy with `factor` times the base backoff (the cap unchanged): for an
        answer that asks to slow down without saying how long (VK's flood control)."""
        return replace(self, backoff_base=self.backoff_base * factor)

    def exhausted(self, failures: int) -> bool:
        """Whether `failures` failed tries used up the attempts: the caller gives up."""
        return failures >= self.attempts

    def backoff(self, failure: int) -> float:
        """Seconds to wait after the `failure`-th consecutive failure (1-based), jittered."""
        raw = min(self.backoff_max, self.backoff_base * 2 ** max(0, failure - 1))
        return raw * (0.5 + 0.5 * self.jitter())

    def exceeds_patience(self, seconds: float) -> bool:
        """Whether a server's wait is longer than this policy waits out within one call."""
        return seconds > self.max_retry_after

    def retry_after(self, value: str | None) -> float | None:
        """Seconds a `Retry-After` header asks for, read against this policy's clock."""
        return parse_retry_after(value, self.now)

    def wait(self, failure: int, retry_after: float | None = None) -> float:
        """Sleep before the next try and return how long; `Retry-After` wins over backoff.
        A `Retry-After` beyond the patience raises `WaitTooLong` instead of sleeping."""
        if retry_after is not None and self.exceeds_patience(retry_after):
            raise WaitTooLong(retry_after, self.now)
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


def describe_wait(seconds: float) -> str:
    """A wait for people: `45 s`, `12 min`, `9 h 05 min`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
