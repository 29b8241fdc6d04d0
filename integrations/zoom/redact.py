"""Keep secrets out of logs: strip query strings and bearer tokens from URLs and log records.

httpx logs every request URL at INFO (a signed storage URL carries its signature in the query)
and httpcore logs response headers at DEBUG (a `Location` with the same URL). A filter on those
loggers rewrites such records before any handler sees them.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

_URL_QUERY = re.compile(r"(https?://[^\s'\"?#<>]*)\?[^\s'\"<>]*", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_TOKEN_FIELD = re.compile(
    r"((?:access_token|download_access_token|token|client_secret)['\"]?\s*[:=]\s*['\"]?)"
    r"[^\s'\"&,}]+",
    re.IGNORECASE,
)
_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy")


def redact_url(url: object) -> str:
    """The URL without its query and fragment (`?…` kept as a marker when there was one)."""
    parts = urlsplit(str(url))
    marker = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + marker


def redact_text(text: str) -> str:
    """`text` with URL query strings, bearer tokens and `token=`-like values masked."""
    text = _URL_QUERY.sub(r"\1?…", text)
    text = _BEARER.sub(r"\1***", text)
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
    """Attach the redacting filter to httpx/httpcore loggers (and `names`); idempotent."""
    for name in (*_LOGGERS, *names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
