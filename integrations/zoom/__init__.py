"""Zoom REST client (Server-to-Server OAuth), recording models and sync filters.

No Prefect here: flows and tasks call `ZoomClient`, `parse_instance` and `skip_reason`.
"""

from integrations.zoom.auth import TokenCache, ZoomAccount
from integrations.zoom.client import PAGE_SIZE, ZoomClient, date_windows, encode_uuid
from integrations.zoom.errors import (
    ZoomAPIError,
    ZoomAuthError,
    ZoomError,
    ZoomNotFoundError,
    ZoomRateLimitError,
    ZoomRetryLaterError,
    ZoomUnavailableError,
)
from integrations.zoom.models import (
    DEFAULT_VIEW_PRIORITY,
    ZoomFile,
    ZoomInstance,
    ZoomUser,
    choose_view,
    parse_instance,
    parse_time,
    skip_reason,
)
from integrations.zoom.redact import install_log_redaction, redact_text, redact_url
from integrations.zoom.retry import RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_VIEW_PRIORITY",
    "PAGE_SIZE",
    "RetryPolicy",
    "TokenCache",
    "ZoomAPIError",
    "ZoomAccount",
    "ZoomAuthError",
    "ZoomClient",
    "ZoomError",
    "ZoomFile",
    "ZoomInstance",
    "ZoomNotFoundError",
    "ZoomRateLimitError",
    "ZoomRetryLaterError",
    "ZoomUnavailableError",
    "ZoomUser",
    "choose_view",
    "date_windows",
    "encode_uuid",
    "install_log_redaction",
    "parse_instance",
    "parse_retry_after",
    "parse_time",
    "redact_text",
    "redact_url",
    "skip_reason",
]
