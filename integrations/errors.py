"""The base of every integration's errors: a human message, and whether retrying may help."""

from __future__ import annotations


class IntegrationError(Exception):
    """An outside system or file said no. `retryable`: a later try may work (network, 5xx)."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
