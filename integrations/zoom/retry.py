"""Retry timing shared by the Zoom client and the downloader: backoff with jitter, `Retry-After`.

The clock and the sleep are injectable so tests observe every wait without sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


@dataclass
class RetryPolicy:
    """How often and how long to retry.

    `attempts` is the total number of tries of one request (not the number of retries). The
    n-th retry waits `backoff_base * 2**(n-1)` seconds, capped at `backoff_max`, scaled by a
    jitter factor in [0.5, 1.0]. A `Retry-After` is honoured as given, unless it is longer than
    `max_retry_after`: then the caller gives up at once and reports the wait.
    """

    attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    @classmethod
    def from_settings(cls, **overrides: object) -> RetryPolicy:
        """A policy with `http_retry_attempts` and `http_backoff_base` from the settings."""
        from config.settings import get_settings

        settings = get_settings()
        values: dict[str, object] = {
            "attempts": settings.http_retry_attempts,
            "backoff_base": settings.http_backoff_base,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def backoff(self, failure: int) -> float:
        """Seconds to wait after the `failure`-th consecutive failure (1-based)."""
        raw = min(self.backoff_max, self.backoff_base * 2 ** max(0, failure - 1))
        return raw * (0.5 + 0.5 * self.jitter())

    def wait(self, failure: int, retry_after: float | None = None) -> float:
        """Sleep before the next try and return how long; `Retry-After` wins over backoff."""
        delay = retry_after if retry_after is not None else self.backoff(failure)
        if delay > 0:
            self.sleep(delay)
        return delay


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())
