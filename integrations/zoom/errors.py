"""Exceptions of the Zoom client: each carries a human-readable message and never a secret."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from integrations.errors import IntegrationError
from integrations.http.retry import describe_wait, resume_time


class ZoomError(IntegrationError):
    """Base of every Zoom client error. `retryable` tells a caller whether a later try may work."""


class ZoomAuthError(ZoomError):
    """The credentials of an account were refused, or a fresh access token was refused too."""

    def __init__(self, account: str, message: str) -> None:
        super().__init__(f"Zoom account {account!r}: {message}")
        self.account = account


class ZoomAPIError(ZoomError):
    """Zoom answered a 4xx that retrying will not fix (bad parameter, missing meeting, ...)."""

    def __init__(self, method: str, path: str, status: int, code: int | None, detail: str) -> None:
        code_part = f", code {code}" if code is not None else ""
        super().__init__(f"Zoom {method} {path} failed: HTTP {status}{code_part}: {detail}")
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.detail = detail


class ZoomNotFoundError(ZoomAPIError):
    """404: the user, meeting or recording does not exist (codes 1001, 3001, 3301)."""


class ZoomRateLimitError(ZoomError):
    """429 on every attempt, or a `Retry-After` longer than the client is willing to wait."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ZoomRetryLaterError(ZoomRateLimitError):
    """Zoom asks for a wait longer than this run's patience (a daily limit, typically).

    Retrying within the run cannot help (`retryable` is false): the caller defers the work to a
    run after `resume_at` (UTC) and marks nothing failed.
    """

    retryable = False

    def __init__(self, message: str, retry_after: float, resume_at: datetime) -> None:
        super().__init__(message, retry_after)
        self.resume_at = resume_at

    @classmethod
    def after(
        cls, where: str, why: str, retry_after: float, now: Callable[[], float] = time.time
    ) -> ZoomRetryLaterError:
        """The error for `where` (the call and its account), refused for `why` and asked to
        wait `retry_after` seconds (from `now`)."""
        resume_at = resume_time(retry_after, now)
        return cls(
            f"{where}: {why}; Zoom accepts requests again at "
            f"{resume_at:%Y-%m-%dT%H:%M:%SZ} (in {describe_wait(retry_after)})",
            retry_after,
            resume_at,
        )


class ZoomUnavailableError(ZoomError):
    """5xx answers or connection errors on every attempt."""

    retryable = True
