"""Why the webhook turned a request or an event away."""

from __future__ import annotations

from integrations.errors import IntegrationError


class WebhookError(IntegrationError):
    """Base of the webhook errors. Messages are safe to log and to return to the caller."""


class InvalidSignatureError(WebhookError):
    """The request is not signed with our secret token (missing, malformed or wrong)."""


class StaleRequestError(WebhookError):
    """The request's timestamp is missing, malformed, or too far from now."""


class InvalidEventError(WebhookError):
    """The (authentic) body is not a Zoom event this module understands."""
