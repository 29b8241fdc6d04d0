"""One TLS context for every httpx client of the process (Zoom's, the downloader's).

Making one loads the whole CA bundle, about 30-50 ms of CPU; a sync of 20 accounts paid it 20
times and every downloaded file once more. An `ssl.SSLContext` may be shared by threads.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The process's context, made once as httpx makes its own (certifi's CA bundle, or
    `SSL_CERT_FILE` when set)."""
    return httpx.create_ssl_context()
