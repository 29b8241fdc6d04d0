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

__all__ = [
    "DEFAULT_VIEW_PRIORITY",
    "PAGE_SIZE",
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
    "parse_instance",
    "parse_time",
    "skip_reason",
]
