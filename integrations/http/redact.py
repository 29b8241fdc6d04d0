"""Keep secrets out of logs and error messages: URL query strings (signed storage URLs, Zoom's
download tokens, VK's `access_token`), `Authorization` values (Bearer and Basic) and
`token=`-like fields are masked.

httpx logs every request URL at INFO (a signed storage URL carries its signature in the query),
httpcore logs response headers at DEBUG (a `Location` with the same URL), googleapiclient logs
the URLs it requests at DEBUG (a resumable session's `upload_id` lets anyone upload to it), and
urllib3 (under requests: VK) logs request lines at DEBUG (`"POST /upload?sig=... HTTP/1.1"`: VK's
upload URLs carry their signature). A filter on those loggers rewrites such records before any
handler sees them.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

_URL_QUERY = re.compile(r"(https?://[^\s'\"?#<>]*)\?[^\s'\"<>]*", re.IGNORECASE)
_REQUEST_LINE = re.compile(r"(\b(?:GET|POST|PUT|PATCH|DELETE|HEAD) /[^\s?]*)\?\S*")
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_BASIC = re.compile(r"(authorization['\"]?\s*[:=]\s*['\"]?basic\s+)[A-Za-z0-9+/=]+", re.IGNORECASE)
_TOKEN_FIELD = re.compile(
    r"((?:access_token|download_access_token|token|client_secret)['\"]?\s*[:=]\s*['\"]?)"
    r"[^\s'\"&,}]+",
    re.IGNORECASE,
)
_LOGGERS = (
    "httpx",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.connection",
    "httpcore.proxy",
    "googleapiclient.discovery",
    "googleapiclient.http",
    "urllib3.connectionpool",
)


def redact_url(url: object) -> str:
    """The URL without its query and fragment (`?…` kept as a marker when there was one)."""
    parts = urlsplit(str(url))
    marker = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + marker


def redact_text(text: str) -> str:
    """`text` with URL query strings (of full URLs and of HTTP request lines), Bearer and Basic
    credentials and `token=`-like values masked."""
    text = _URL_QUERY.sub(r"\1?…", text)
    text = _REQUEST_LINE.sub(r"\1?…", text)
    text = _BEARER.sub(r"\1***", text)
    text = _BASIC.sub(r"\1***", text)
    return _TOKEN_FIELD.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install_log_redaction(*names: str) -> None:
    """Attach the redacting filter to the HTTP libraries' loggers (and `names`); idempotent."""
    for name in (*_LOGGERS, *names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
