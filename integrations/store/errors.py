"""Errors of the status store, importable without loading SQLAlchemy (the CLI catches them)."""

from __future__ import annotations

from integrations.errors import IntegrationError


class StoreUnavailableError(IntegrationError, RuntimeError):
    """The status store cannot be reached or opened; the message says which and how to fix it."""


class LostClaimError(IntegrationError, RuntimeError):
    """The row is no longer claimed by this worker (its lease ran out and it was recovered)."""


class RecordingNotFoundError(IntegrationError, LookupError):
    """No recording has that ID."""
