"""An httpx transport whose connections receive up to `size` bytes per `recv`, for the
downloader's own client only.

httpcore asks its socket for 64 KiB at a time; for a media download that is 16 Python-level
reads, parses and writes per MiB, and 1 MiB reads halve the client's CPU per byte
(benchmarks/download.py). The change is made with httpcore's public extension points (a
`NetworkBackend` whose streams widen each read, and a `ConnectionPool` using it), so no other
client in the process (Prefect's, the API clients') is touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from integrations.http.tls import tls_context


class _WideStream(httpcore.NetworkStream):
    """A socket stream whose reads ask for at least `size` bytes."""

    def __init__(self, inner: httpcore.NetworkStream, size: int) -> None:
        self._inner, self._size = inner, size

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max(max_bytes, self._size), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout=None):
        return _WideStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._size)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _WideBackend(httpcore.NetworkBackend):
    """httpcore's own blocking socket backend, with `_WideStream`s."""

    def __init__(self, size: int) -> None:
        self._inner, self._size = httpcore.SyncBackend(), size

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _WideStream(stream, self._size)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        return _WideStream(stream, self._size)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# Every exception httpcore raises for a request (httpx's own transport maps the same ones).
_CORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


def _as_httpx(exc: Exception) -> Exception:
    """httpcore's exception as httpx's class of the same name (httpx mirrors them one to one)."""
    for kind in type(exc).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if kind.__module__.startswith("httpcore") and isinstance(mapped, type):
            return mapped(str(exc))
    return exc


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except _CORE_ERRORS as exc:
            raise _as_httpx(exc) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class WideReadTransport(httpx.BaseTransport):
    """HTTP/1.1 over a connection pool whose sockets are read `size` bytes at a time."""

    def __init__(self, size: int, max_connections: int = 10) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=tls_context(),
            max_connections=max_connections,
            network_backend=_WideBackend(size),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            answer = self._pool.handle_request(core)
        except _CORE_ERRORS as exc:
            raise _as_httpx(exc) from exc
        assert isinstance(answer.stream, Iterable)  # a sync pool's body (httpcore asserts it too)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()
