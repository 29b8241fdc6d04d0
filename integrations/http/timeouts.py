"""How long an HTTP client waits on the network: one figure, `HTTP_TIMEOUT` seconds, for every
client here, meaning the same in each library: the longest wait for one network step (to
connect, or for the next bytes of an answer), never a limit on a whole transfer, so a large
download or upload that keeps moving is never cut.

- httpx (Zoom, the downloader): `httpx.Timeout(seconds)` for connect, read, write and pool;
- httplib2 (YouTube, under google-api-python-client): the socket timeout;
- requests (VK, under vk_api, and VK's uploads): connect and read.
"""

from __future__ import annotations


def http_timeout(seconds: float | None = None) -> float:
    """`seconds` when given, else the `HTTP_TIMEOUT` setting."""
    if seconds is not None:
        return seconds
    from config.settings import get_settings

    return get_settings().http_timeout
