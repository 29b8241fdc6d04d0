"""The downloader's own transport: wide socket reads for it alone, httpx's errors as usual."""

from __future__ import annotations

import socket

import httpcore
import httpx
import pytest

import integrations.download  # noqa: F401 - importing the downloader changes nothing global
from integrations.wide_reads import WideReadTransport


def test_other_clients_keep_httpcores_own_read_size():
    from httpcore._sync.http11 import HTTP11Connection

    assert HTTP11Connection.READ_NUM_BYTES == 64 * 1024


def test_a_refused_connection_is_httpxs_connect_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = httpx.Client(transport=WideReadTransport(1 << 20))
    with client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/")


def test_a_large_body_arrives_whole_in_reads_of_a_mebibyte(monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = bytes(range(256)) * (12 * 1024)  # 3 MiB

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    asked: list[int] = []  # what each read asks the socket for
    original = httpcore.SyncBackend.connect_tcp

    def connect_tcp(backend, *args, **kwargs):
        stream = original(backend, *args, **kwargs)
        real_read = stream.read
        stream.read = lambda max_bytes, timeout=None: (
            asked.append(max_bytes) or real_read(max_bytes, timeout)
        )
        return stream

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client(transport=WideReadTransport(1 << 20)) as client:
            answer = client.get(f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
    assert answer.content == body
    assert asked and set(asked) == {1 << 20}
