"""Errors about configuration that every layer may raise and the CLI explains."""

from __future__ import annotations


class CredentialsMissingError(LookupError):
    """No block holds the credentials a command needs; the message says how to add them."""
