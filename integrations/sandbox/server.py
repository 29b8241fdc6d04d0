"""The loopback HTTP server every emulator runs on: routing, request log and fault injection.

An emulator subclasses `Emulator`, registers its routes with `@route(METHOD, REGEX)` and is
served by `LoopbackServer` on 127.0.0.1 in a background thread. Tests read `emulator.requests`
to assert on the wire and call `emulator.inject(Fault(...))` to make a chosen call fail.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson

Handler = Callable[["Request"], "Response"]
# An emulator's handler method before binding: (self, request) -> Response.
HandlerMethod = TypeVar("HandlerMethod", bound=Callable[..., "Response"])


@dataclass
class Request:
    """One request as the emulator received it (the body is read whole unless streamed)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    match: dict[str, str]
    body: bytes = b""
    stream: Any = None  # the socket file for handlers that read a large body themselves
    fault: Fault | None = None  # the fault taken for this request (streaming handlers act on it)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What a handler answers: a status, headers and a body (bytes, JSON or a byte iterator)."""

    status: int = 200
    body: bytes | Iterable[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None  # Content-Length when `body` is an iterator

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None):
        # orjson: a Zoom world's listing is megabytes of JSON, encoded 5x faster than by `json`.
        data = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
        return cls(status, data, {"Content-Type": "application/json", **(headers or {})})


@dataclass
class Fault:
    """A failure to inject on matching requests.

    Matches `method` (any when None) and a path regex; lets `skip` matching calls through first,
    then fires `times` times. It either answers `status` with `body`/`headers`, or, with
    `cut_after_bytes`, sends the normal response and drops the connection after that many bytes
    of its body.
    """

    path: str
    method: str | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    cut_after_bytes: int | None = None
    skip: int = 0
    times: int = 1
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method is None or self.method == method
        return method_ok and re.search(self.path, path) is not None


class DropConnection(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a handler to close the connection without answering (a cut mid-request)."""


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    streaming: bool


def route(
    method: str, pattern: str, *, streaming: bool = False
) -> Callable[[HandlerMethod], HandlerMethod]:
    """Mark an emulator method as the handler of `METHOD pattern` (a full-match regex)."""

    def mark(func: HandlerMethod) -> HandlerMethod:
        vars(func)["_route"] = (method, pattern, streaming)
        return func

    return mark


class Emulator:
    """Base of the Zoom, YouTube and VK emulators: routes, a request log and a fault list."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        # Bytes per second per connection, both ways (None: loopback speed): a slow network.
        self.bandwidth: float | None = None
        self.base_url = ""  # set by LoopbackServer once the port is known
        self.lock = threading.RLock()
        self._routes = [
            Route(m, re.compile(p), getattr(self, name), s)
            for name in dir(self)
            if (spec := getattr(getattr(self, name, None), "_route", None))
            for m, p, s in [spec]
        ]

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def calls(self, method: str, path_regex: str) -> list[Request]:
        """The requests received so far whose method and path match."""
        return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for candidate in self._routes:
            if candidate.method == method and (m := candidate.pattern.fullmatch(path)):
                return candidate, m.groupdict()
        return None

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.fired < fault.times and fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.fired += 1
                    return fault
        return None

    def not_found(self, request: Request) -> Response:
        return Response.json({"error": f"no route for {request.method} {request.path}"}, 404)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator keeps its own log in `requests`."""

    def _handle(self) -> None:
        emulator = self.server.emulator
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        found = emulator.find_route(self.command, url.path)
        request = Request(self.command, url.path, query, headers, found[1] if found else {})
        self._pace = _Pace(emulator.bandwidth)
        if found and found[0].streaming:
            request.stream = _PacedReader(self.rfile, self._pace)
        else:
            request.body = self._read_body(headers)
            self._pace(len(request.body))
        with emulator.lock:
            emulator.requests.append(request)
        fault = emulator.take_fault(self.command, url.path)
        request.fault = fault
        if fault and fault.status is not None:
            if request.stream is not None:
                self._drain(headers)  # keep the connection usable: the body was not read
            self._send(Response.json(fault.body, fault.status, fault.headers))
            return
        try:
            response = found[0].handler(request) if found else emulator.not_found(request)
        except DropConnection:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._send(response, cut_after=fault.cut_after_bytes if fault else None)

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return self.rfile.read(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return b"".join(_read_chunked(self.rfile))
        return b""

    def _drain(self, headers: dict[str, str]) -> None:
        left = int(headers.get("content-length") or 0)
        while left > 0:
            got = self.rfile.read(min(left, 1 << 16))
            if not got:
                return
            left -= len(got)

    def _send(self, response: Response, cut_after: int | None = None) -> None:
        body = response.body
        chunks: Iterator[bytes] = iter([body] if isinstance(body, bytes) else body or [b""])
        length = len(body) if isinstance(body, bytes) else response.length
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        for chunk in chunks:
            if cut_after is not None and sent + len(chunk) >= cut_after:
                self.wfile.write(chunk[: cut_after - sent])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._pace(len(chunk))
            self.wfile.write(chunk)
            sent += len(chunk)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle  # noqa: N815


class _Pace:
    """Sleeps so that the bytes passed through stay under `bandwidth` per second."""

    def __init__(self, bandwidth: float | None) -> None:
        self.bandwidth = bandwidth
        self.started = time.monotonic()
        self.total = 0

    def __call__(self, size: int) -> None:
        if not self.bandwidth:
            return
        self.total += size
        ahead = self.total / self.bandwidth - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


class _PacedReader:
    """A request body stream read at the emulator's bandwidth."""

    def __init__(self, stream: Any, pace: _Pace) -> None:
        self._stream, self._pace = stream, pace

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._pace(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        self._pace(len(line))
        return line


def _read_chunked(stream: Any) -> Iterator[bytes]:
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            stream.readline()
            return
        yield stream.read(size)
        stream.readline()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hang up mid-response (downloads cut on purpose)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """Serves an emulator on 127.0.0.1 (a free port unless given) in a daemon thread."""

    def __init__(self, emulator: Emulator, port: int = 0, host: str = "127.0.0.1") -> None:
        self.emulator = emulator
        self._server = _Server((host, port), _RequestHandler)
        self._server.emulator = emulator
        self.url = f"http://{host}:{self._server.server_address[1]}"
        emulator.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
