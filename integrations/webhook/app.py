"""The Zoom webhook endpoint as a FastAPI app: `POST /zoom/webhook` and `GET /healthz`.

Every request must carry a valid, fresh Zoom signature (`signature.verify_request`), or it gets
401 with a JSON error. `endpoint.url_validation` is answered with the challenge;
`recording.completed` hands `payload.object` plus `download_token` to the caller's callback
once per instance (`recent.TTLSet` remembers what was accepted), on a small worker pool, so that
Zoom gets its 200 at once (it wants one within 3 s); every other event is acknowledged and
ignored. `serve` runs an app with uvicorn.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from integrations.webhook.errors import InvalidEventError, InvalidSignatureError, StaleRequestError
from integrations.webhook.events import (
    RECORDING_COMPLETED_EVENT,
    URL_VALIDATION_EVENT,
    event_key,
    recording_completed_job,
)
from integrations.webhook.recent import TTLSet
from integrations.webhook.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    url_validation_response,
    verify_request,
)

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/zoom/webhook"
MAX_BODY_BYTES = 1 << 20  # a recording.completed with dozens of files is a few tens of KB


class WebhookRuntime:
    """The app's moving parts: the events accepted lately and the pool running callbacks."""

    def __init__(
        self,
        callback: Callable[[dict[str, Any]], object],
        accepted: TTLSet,
        max_workers: int,
    ) -> None:
        self.callback = callback
        self.accepted = accepted
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="zoom-hook")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, key: str, job: dict[str, Any]) -> None:
        future = self.executor.submit(self._run, key, job)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, key: str, job: dict[str, Any]) -> None:
        uuid = job.get("uuid")
        try:
            self.callback(job)
        except Exception:
            # Forget the key, so that a redelivery of this instance is accepted again.
            self.accepted.discard(key)
            logger.exception("Zoom webhook: callback failed for instance %s", uuid)
        else:
            logger.info("Zoom webhook: handled recording.completed for instance %s", uuid)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted callback has finished; False on timeout."""
        with self._lock:
            pending = set(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is longer than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    secret_token: str,
    on_recording_completed: Callable[[dict[str, Any]], object],
    *,
    clock: Callable[[], float] = time.time,
    once_per_instance: bool = True,
    max_workers: int = 2,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The webhook app.

    `on_recording_completed(job)` gets `payload.object` plus `download_token` (and the
    payload's `account_id`), in a worker thread, once per instance (`once_per_instance=False`:
    once per (instance, event_ts), i.e. only retries are dropped); a callback that raises lets
    a redelivery of the event through again. `clock` gives epoch seconds.
    Leaving the app's lifespan waits for running callbacks; `app.state.webhook.drain()` too.
    """
    if not secret_token:
        raise ValueError("the Zoom webhook secret token is empty")
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    accepted = TTLSet(clock=clock)
    runtime = WebhookRuntime(on_recording_completed, accepted, max_workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.shutdown()

    app = FastAPI(
        title="zoom-publisher webhook",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.webhook = runtime

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(WEBHOOK_PATH)
    async def zoom_webhook(request: Request) -> JSONResponse:
        body = await _read_body(request, max_body_bytes)
        if body is None:
            return _error(413, "too_large", f"body over {max_body_bytes} bytes")
        try:
            verify_request(
                secret_token,
                body,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                now=clock(),
            )
        except (InvalidSignatureError, StaleRequestError) as exc:
            kind = "stale_request" if isinstance(exc, StaleRequestError) else "invalid_signature"
            client = request.client.host if request.client else "?"
            logger.warning("Zoom webhook: rejected a request from %s: %s", client, exc)
            return _error(401, kind, str(exc))

        try:
            event = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _error(400, "invalid_json", "body is not JSON")
        if not isinstance(event, dict):
            return _error(400, "invalid_event", "body is not a JSON object")
        name = event.get("event")

        try:
            if name == URL_VALIDATION_EVENT:
                payload = event.get("payload")
                plain = payload.get("plainToken") if isinstance(payload, dict) else None
                token = plain if isinstance(plain, str) else ""
                return JSONResponse(url_validation_response(secret_token, token))
            if name != RECORDING_COMPLETED_EVENT:
                logger.debug("Zoom webhook: ignored event %r", name)
                return JSONResponse({"status": "ignored", "event": str(name)})
            job = recording_completed_job(event)
        except InvalidEventError as exc:
            return _error(400, "invalid_event", str(exc))

        key = event_key(event, per_instance=once_per_instance)
        if not accepted.add(key):
            logger.info("Zoom webhook: duplicate recording.completed for %s", job["uuid"])
            return JSONResponse({"status": "duplicate"})
        try:
            runtime.submit(key, job)
        except RuntimeError:  # the pool is shut down: the server is stopping
            accepted.discard(key)
            return _error(503, "unavailable", "shutting down")
        logger.info("Zoom webhook: accepted recording.completed for %s", job["uuid"])
        return JSONResponse({"status": "accepted"})

    return app


def serve(app: FastAPI, host: str, port: int, *, log_level: str = "info") -> None:
    """Serve `app` with uvicorn until interrupted; the project's loggers go to its console."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from integrations.http.redact import install_log_redaction

    install_log_redaction("zoom_publisher", "integrations")
    log_config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("zoom_publisher", "integrations"):
        log_config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # A stop waits at most this long for open requests (their events are stored already or
    # redelivered by Zoom), so that the command and its temporary Prefect server end promptly.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        timeout_graceful_shutdown=5,
    )
