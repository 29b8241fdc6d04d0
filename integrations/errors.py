"""The root of every error an integration raises on purpose: a human message, and whether
retrying may help.

Each outside system has its own base beneath it (`ZoomError`, `YouTubeError`, `VkError`,
`DownloadError`, `MediaError`, the store's errors, `DiskError`, `WaitTooLong`), so a caller
catches one system's errors by its base, and task code decides whether to retry any of them
with `isinstance(exc, IntegrationError) and exc.retryable`, never by reading attributes of
unknown exceptions.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """An outside system or file said no. `retryable`: a later try may work (network, 5xx).

    `retryable` is a class default that a subclass sets, or one error overrides when it is
    raised (an HTTP error is retryable for a 503, not for a 404).
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message
