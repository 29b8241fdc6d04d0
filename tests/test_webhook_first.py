"""The webhook set up before any credentials: it validates, stores, and the next run downloads.

Zoom checks the endpoint URL when the webhook is added to the app, often before anything else
is configured; the command then runs with only ZOOM_WEBHOOK_SECRET_TOKEN.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from media_factory import MediaSpec, make_media
from zoom_fixtures import save_block, zoom_sandbox

from flows.download import download_flow
from integrations.sandbox.zoom import FileSpec
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus
from integrations.webhook import sign

SECRET = "whsec-first-day-5a4b3c2d1e"
DOWNLOAD_TOKEN = "dl-token-never-kept-77aa66"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url: str, event: dict, *, secret: str = SECRET, age: float = 0) -> httpx.Response:
    body = json.dumps(event).encode()
    timestamp = str(int(time.time() - age))
    headers = {
        "content-type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


@pytest.fixture
def webhook_process(
    store: RecordingStore, database_url: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`zoom-publisher webhook` in its own process, against this test's store and Prefect API."""
    from prefect.settings import get_current_settings

    port = free_port()
    env = {
        **os.environ,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "DATABASE_URL": database_url,
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "MIN_SIZE_MB": "0",  # the test's lectures are short and small
        "MIN_DURATION_MIN": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "webhook", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    try:
        yield f"{base}/zoom/webhook", process
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_webhook_before_credentials_stores_events_and_the_next_run_downloads_them(
    prefect_harness: None,
    store: RecordingStore,
    webhook_process: tuple[str, subprocess.Popen[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, process = webhook_process
    clip = make_media(tmp_path / "lecture.mp4", MediaSpec(duration=3.0))
    with zoom_sandbox(monkeypatch) as zoom:  # no account block saved: nothing is configured
        account = zoom.add_account("school@example.com")
        user = zoom.add_user(account)
        meetings = [
            zoom.add_meeting(
                account,
                user,
                topic=f"Lecture {n}",
                start_time=START + timedelta(hours=n),
                duration=90,
                files=[FileSpec(path=clip)],
            )
            for n in (1, 2)
        ]
        assert process.poll() is None, process.stdout.read() if process.stdout else ""

        challenge = post(
            url, {"event": "endpoint.url_validation", "payload": {"plainToken": "plain-123"}}
        )
        expected = hmac.new(SECRET.encode(), b"plain-123", hashlib.sha256).hexdigest()
        assert challenge.status_code == 200
        assert challenge.json() == {"plainToken": "plain-123", "encryptedToken": expected}

        def completed(meeting, event_ts: int) -> dict:
            return {
                "event": "recording.completed",
                "event_ts": event_ts,
                "payload": {"account_id": account.account_id, "object": zoom.meeting_json(meeting)},
                "download_token": DOWNLOAD_TOKEN,
            }

        assert post(url, completed(meetings[0], 1), secret="wrong").status_code == 401
        assert post(url, completed(meetings[0], 1), age=600).status_code == 401
        for n, meeting in enumerate(meetings):
            assert post(url, completed(meeting, 10 + n)).status_code == 200
        deadline = time.monotonic() + 30
        while len(store.list()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        process.terminate()
        output = process.communicate(timeout=30)[0]

        rows = {row.zoom_uuid: row for row in store.list()}
        assert set(rows) == {m.uuid for m in meetings}
        for row in rows.values():
            assert row.status == ProcessingStatus.INITIALIZED, row.status_reason
            assert row.account == account.account_id  # resolved once the account is imported
        assert output.count("no configured Zoom account can fetch the files") == 1, output
        assert "No Zoom account is configured yet" in output
        assert "Traceback" not in output
        assert SECRET not in output and DOWNLOAD_TOKEN not in output

        save_block(account)  # what `credentials import --zoom` does
        state = download_flow(return_state=True)

        assert state.is_completed(), state.message
        for row in store.list():
            assert row.status == ProcessingStatus.DOWNLOADED
            assert Path(row.source_path).read_bytes() == clip.read_bytes()
