"""Errors about configuration that every layer may raise and the CLI explains."""

from __future__ import annotations


class CredentialsMissingError(LookupError):
    """No block holds the credentials a command needs; the message says how to add them."""


class ConfigError(ValueError):
    """A configuration file is missing or wrong; `problems` holds one message per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source} is not valid:\n" + "\n".join(f"  {p}" for p in problems))
