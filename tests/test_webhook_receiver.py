"""Zoom webhook: signatures, staleness, the URL challenge, deduplication, the FastAPI app."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
import warnings
from typing import Any

import httpx
import pytest
import uvicorn

from integrations.webhook.app import create_app
from integrations.webhook.errors import InvalidSignatureError, StaleRequestError
from integrations.webhook.events import event_key
from integrations.webhook.recent import TTLSet
from integrations.webhook.signature import sign, url_validation_response, verify_request

with warnings.catch_warnings():  # Starlette 1.x: "use httpx2" (not available here)
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "s3cr3t-webhook-token-value"
NOW = 1_760_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def completed_event(uuid: str = "abc/+def==", event_ts: int = 1_760_000_000_123) -> dict:
    return {
        "event": "recording.completed",
        "event_ts": event_ts,
        "payload": {
            "account_id": "acct-1",
            "object": {
                "uuid": uuid,
                "id": 123456789,
                "topic": "Lecture 1",
                "start_time": "2025-10-09T10:00:00Z",
                "recording_files": [{"id": "f1", "file_type": "MP4"}],
            },
        },
        "download_token": "dl-token-xyz",
    }


def signed(event: Any, *, secret: str = SECRET, timestamp: float = NOW) -> dict:
    body = json.dumps(event).encode()
    ts = str(int(timestamp))
    return {
        "content": body,
        "headers": {
            "content-type": "application/json",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": sign(secret, ts, body),
        },
    }


@pytest.fixture
def received() -> list[dict]:
    return []


@pytest.fixture
def client(received: list[dict]):
    app = create_app(SECRET, received.append, clock=Clock())
    with TestClient(app) as test_client:
        yield test_client


# -- pure functions ---------------------------------------------------------------------------


def test_sign_matches_zoom_formula() -> None:
    body = b'{"event":"x"}'
    digest = hmac.new(SECRET.encode(), b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000", body) == f"v0={digest}"


def test_verify_request_accepts_good_and_rejects_bad() -> None:
    body = b"{}"
    ts = str(int(NOW))
    verify_request(SECRET, body, ts, sign(SECRET, ts, body), now=NOW)
    with pytest.raises(InvalidSignatureError):
        verify_request(SECRET, body, ts, sign("other", ts, body), now=NOW)
    with pytest.raises(InvalidSignatureError):
        verify_request(SECRET, b"{ }", ts, sign(SECRET, ts, body), now=NOW)
    with pytest.raises(InvalidSignatureError):
        verify_request(SECRET, body, ts, None, now=NOW)
    with pytest.raises(StaleRequestError):
        verify_request(SECRET, body, ts, sign(SECRET, ts, body), now=NOW + 301)
    with pytest.raises(StaleRequestError):
        verify_request(SECRET, body, ts, sign(SECRET, ts, body), now=NOW - 301)
    verify_request(SECRET, body, ts, sign(SECRET, ts, body), now=NOW + 299)
    ms = str(int(NOW * 1000))
    verify_request(SECRET, body, ms, sign(SECRET, ms, body), now=NOW)
    with pytest.raises(StaleRequestError):
        verify_request(SECRET, body, "soon", sign(SECRET, "soon", body), now=NOW)


def test_url_validation_response() -> None:
    answer = url_validation_response(SECRET, "qgg8vlvZRS6UYooatFL8Aw")
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_event_key() -> None:
    event = completed_event()
    assert event_key(event) == "recording.completed|abc/+def==|1760000000123"
    assert event_key(event, per_instance=True) == "recording.completed|abc/+def=="


def test_ttl_set_expires_and_is_bounded() -> None:
    clock = Clock(0.0)
    store = TTLSet(ttl=10, max_entries=3, clock=clock)
    assert store.add("a") and not store.add("a")
    clock.now = 10.5
    assert store.add("a")  # expired, so new again
    for key in "bcd":
        assert store.add(key)
    assert len(store) == 3 and "a" not in store  # the oldest went first


def test_ttl_set_is_thread_safe() -> None:
    store = TTLSet(ttl=60, max_entries=1000)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        wins.append(store.add("same"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert wins.count(True) == 1


# -- the app ----------------------------------------------------------------------------------


def test_good_signature_starts_callback_with_object_and_token(client, received) -> None:
    response = client.post("/zoom/webhook", **signed(completed_event()))
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert client.app.state.webhook.drain(5)
    assert len(received) == 1
    job = received[0]
    assert job["uuid"] == "abc/+def=="
    assert job["download_token"] == "dl-token-xyz"
    assert job["account_id"] == "acct-1"
    assert job["recording_files"] == [{"id": "f1", "file_type": "MP4"}]


def test_bad_signature_is_401(client, received) -> None:
    request = signed(completed_event(), secret="not-the-secret")
    response = client.post("/zoom/webhook", **request)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    tampered = signed(completed_event())
    tampered["content"] = tampered["content"].replace(b"Lecture 1", b"Lecture 2")
    assert client.post("/zoom/webhook", **tampered).status_code == 401
    unsigned = signed(completed_event())
    del unsigned["headers"]["x-zm-signature"]
    assert client.post("/zoom/webhook", **unsigned).status_code == 401
    assert received == []


def test_stale_and_future_timestamps_are_401(client, received) -> None:
    for skew in (-301, -3600, 301):
        response = client.post("/zoom/webhook", **signed(completed_event(), timestamp=NOW + skew))
        assert response.status_code == 401
        assert response.json()["error"] == "stale_request"
    assert client.post("/zoom/webhook", **signed(completed_event(), timestamp=NOW - 60)).is_success
    client.app.state.webhook.drain(5)
    assert len(received) == 1


def test_replayed_event_runs_callback_once(client, received) -> None:
    request = signed(completed_event())
    first = client.post("/zoom/webhook", **request)
    again = client.post("/zoom/webhook", **request)  # Zoom's retry: byte for byte the same
    later = client.post("/zoom/webhook", **signed(completed_event(event_ts=1_760_000_100_000)))
    other = client.post("/zoom/webhook", **signed(completed_event(uuid="other-instance")))
    assert [r.json()["status"] for r in (first, again, later, other)] == [
        "accepted",
        "duplicate",
        "duplicate",
        "accepted",
    ]
    client.app.state.webhook.drain(5)
    assert sorted(job["uuid"] for job in received) == ["abc/+def==", "other-instance"]


def test_replay_keyed_by_event_ts_when_not_per_instance(received) -> None:
    app = create_app(SECRET, received.append, clock=Clock(), once_per_instance=False)
    with TestClient(app) as client:
        request = signed(completed_event())
        assert client.post("/zoom/webhook", **request).json()["status"] == "accepted"
        assert client.post("/zoom/webhook", **request).json()["status"] == "duplicate"
        later = signed(completed_event(event_ts=1_760_000_100_000))
        assert client.post("/zoom/webhook", **later).json()["status"] == "accepted"
    assert len(received) == 2  # leaving the lifespan waited for the callbacks


def test_url_validation_challenge(client, received) -> None:
    event = {
        "event": "endpoint.url_validation",
        "event_ts": 1_760_000_000_000,
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
    }
    response = client.post("/zoom/webhook", **signed(event))
    assert response.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    unsigned = signed(event, secret="wrong")
    assert client.post("/zoom/webhook", **unsigned).status_code == 401
    assert client.post("/zoom/webhook", **signed({**event, "payload": {}})).status_code == 400
    assert received == []


def test_unrelated_event_is_acknowledged_and_ignored(client, received) -> None:
    event = {"event": "meeting.started", "event_ts": 1, "payload": {"object": {"uuid": "u1"}}}
    response = client.post("/zoom/webhook", **signed(event))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    client.app.state.webhook.drain(5)
    assert received == []


def test_malformed_bodies(client) -> None:
    request = signed({})
    request["content"] = b"not json"
    ts = request["headers"]["x-zm-request-timestamp"]
    request["headers"]["x-zm-signature"] = sign(SECRET, ts, b"not json")
    assert client.post("/zoom/webhook", **request).status_code == 400
    no_uuid = completed_event()
    del no_uuid["payload"]["object"]["uuid"]
    assert client.post("/zoom/webhook", **signed(no_uuid)).status_code == 400


def test_body_size_limit(received) -> None:
    app = create_app(SECRET, received.append, clock=Clock(), max_body_bytes=100)
    with TestClient(app) as client:
        response = client.post("/zoom/webhook", **signed(completed_event()))
    assert response.status_code == 413


def test_failing_callback_is_logged_and_redelivery_accepted(caplog) -> None:
    calls: list[dict] = []

    def flaky(job: dict) -> None:
        calls.append(job)
        if len(calls) == 1:
            raise RuntimeError("pipeline could not start")

    app = create_app(SECRET, flaky, clock=Clock())
    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        client.post("/zoom/webhook", **signed(completed_event()))
        client.app.state.webhook.drain(5)
        assert "callback failed" in caplog.text
        client.post("/zoom/webhook", **signed(completed_event()))
        client.app.state.webhook.drain(5)
    assert len(calls) == 2


def test_callback_runs_in_background(received) -> None:
    release = threading.Event()

    def slow(job: dict) -> None:
        release.wait(10)
        received.append(job)

    app = create_app(SECRET, slow, clock=Clock())
    with TestClient(app) as client:
        response = client.post("/zoom/webhook", **signed(completed_event()))
        assert response.status_code == 200
        assert received == []  # answered while the callback still waits (inline, it would not)
        release.set()
    assert len(received) == 1


def test_secret_and_download_token_never_logged_or_echoed(caplog, received) -> None:
    app = create_app(SECRET, received.append, clock=Clock())
    bodies: list[str] = []
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        for request in (
            signed(completed_event()),
            signed(completed_event()),
            signed(completed_event(), secret="wrong"),
            signed(completed_event(), timestamp=NOW - 1000),
            signed({"event": "endpoint.url_validation", "payload": {"plainToken": "p"}}),
            signed({"event": "other"}),
        ):
            bodies.append(client.post("/zoom/webhook", **request).text)
    text = caplog.text + "\n".join(bodies)
    assert SECRET not in text
    assert "dl-token-xyz" not in text


def test_healthz(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_real_uvicorn_server(received) -> None:
    app = create_app(SECRET, received.append)  # the real clock
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            request = signed(completed_event(), timestamp=time.time())
            assert http.post("/zoom/webhook", **request).json() == {"status": "accepted"}
            assert http.post("/zoom/webhook", **request).json() == {"status": "duplicate"}
            bad = signed(completed_event(), secret="wrong", timestamp=time.time())
            assert http.post("/zoom/webhook", **bad).status_code == 401
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert not thread.is_alive()
    assert [job["uuid"] for job in received] == ["abc/+def=="]
