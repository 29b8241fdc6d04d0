"""The webhook set up before any credentials: it validates, stores, and the next run downloads.

Zoom checks the endpoint URL when the webhook is added to the app, often before anything else
is configured; the command then runs with only ZOOM_WEBHOOK_SECRET_TOKEN. The events come from
the Zoom emulator, so their file URLs open only with the event's download token, as Zoom's do.
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
from click.testing import CliRunner
from media_factory import MediaSpec, make_media
from prefect_servers import wait_until_up
from sqlalchemy import select
from zoom_fixtures import zoom_sandbox

from flows.cli import main
from flows.download import download_flow
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.zoom import FileSpec, ZoomEmulator
from integrations.store.models import Recording
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus
from integrations.webhook.signature import sign
from integrations.zoom import ZoomClient

SECRET = "whsec-first-day-5a4b3c2d1e"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
ROOT = Path(__file__).resolve().parents[1]
WAITING = "no configured Zoom account can fetch the files"
VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello\n"


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


def stored_text(store: RecordingStore) -> str:
    """Every column of every row, as text: what the database keeps."""
    with store.session() as session:
        rows = session.scalars(select(Recording)).all()
        return json.dumps(
            [{c.key: getattr(r, c.key) for c in Recording.__table__.columns} for r in rows],
            default=str,
        )


@pytest.fixture
def webhook_process(
    store: RecordingStore, database_url: str
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
    try:
        wait_until_up(f"{base}/healthz", process, 90)
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
        files = [FileSpec(path=clip), FileSpec(recording_type="audio_transcript", data=VTT)]
        meetings = [
            zoom.add_meeting(
                account,
                user,
                topic=f"Lecture {n}",
                start_time=START + timedelta(hours=n),
                duration=90,
                files=files,
            )
            for n in (1, 2)
        ]
        events = [zoom.recording_completed(m, event_ts=10 + n) for n, m in enumerate(meetings)]
        tokens = [event["download_token"] for event in events]
        assert process.poll() is None, process.stdout.read() if process.stdout else ""

        challenge = post(
            url, {"event": "endpoint.url_validation", "payload": {"plainToken": "plain-123"}}
        )
        expected = hmac.new(SECRET.encode(), b"plain-123", hashlib.sha256).hexdigest()
        assert challenge.status_code == 200
        assert challenge.json() == {"plainToken": "plain-123", "encryptedToken": expected}

        forged = post(url, events[0], secret="wrong")
        stale = post(url, events[0], age=600)
        assert (forged.status_code, forged.json()["error"]) == (401, "invalid_signature")
        assert (stale.status_code, stale.json()["error"]) == (401, "stale_request")
        assert store.list() == []

        for event in events:
            response = post(url, event)
            assert (response.status_code, response.json()) == (200, {"status": "accepted"})
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
            assert [f["download_url"] for f in row.video_files] == [None]
            assert row.transcript_file and row.transcript_file["download_url"] is None
        assert output.count(WAITING) == 1, output
        assert "No Zoom account is configured yet" in output
        assert "credentials import --zoom" in output
        assert "Traceback" not in output
        for secret in (SECRET, *tokens):
            assert secret not in output and secret not in stored_text(store)

        early = download_flow(return_state=True)  # a run before the import: the rows wait

        assert early.is_completed(), early.message
        for row in store.list():
            assert (row.status, row.attempts) == (ProcessingStatus.INITIALIZED, 0)
            assert row.status_reason and "credentials import --zoom" in row.status_reason
        assert zoom.requests == [], "nothing can reach Zoom before the account is imported"

        creds = tmp_path / "zoom_creds.json"
        entry = {
            "account": account.name,
            "account_id": account.account_id,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
        }
        creds.write_text(json.dumps({"accounts": [entry]}), encoding="utf-8")
        imported = CliRunner().invoke(main, ["credentials", "import", "--zoom", str(creds)])
        assert imported.exit_code == 0, imported.output

        state = download_flow(return_state=True)

        assert state.is_completed(), state.message
        for row in store.list():
            assert row.status == ProcessingStatus.DOWNLOADED, row.status_reason
            assert row.account == account.name
            assert Path(row.source_path).read_bytes() == clip.read_bytes()
            assert Path(row.source_path).with_suffix(".vtt").read_bytes() == VTT
        assert len(zoom.calls("GET", r"^/v2/meetings/.+/recordings$")) == 2
        assert zoom.calls("GET", r"^/rec/webhook_download/") == []
        assert len(zoom.calls("GET", r"^/rec/download/")) == 4  # two videos, two transcripts
        for secret in (SECRET, *tokens):
            assert secret not in stored_text(store)


def test_an_events_file_urls_open_only_with_its_download_token(tmp_path: Path) -> None:
    """The emulator's contract the test above relies on: the account's OAuth token does not
    open an event's `/rec/webhook_download/` URL; the event's own download token does."""
    zoom = ZoomEmulator()
    account = zoom.add_account("school@example.com")
    meeting = zoom.add_meeting(
        account,
        zoom.add_user(account),
        topic="Lecture",
        start_time=START,
        duration=90,
        files=[FileSpec(data=b"mp4 bytes")],
    )
    with LoopbackServer(zoom), httpx.Client() as http:
        event = zoom.recording_completed(meeting)
        [file] = event["payload"]["object"]["recording_files"]
        with ZoomClient(account.credentials, api_url=zoom.api_url, oauth_url=zoom.oauth_url) as z:
            account_token = z.bearer()
        oauth = http.get(file["download_url"], headers={"Authorization": f"Bearer {account_token}"})
        own = http.get(file["download_url"], params={"access_token": event["download_token"]})

    assert "/rec/webhook_download/" in file["download_url"]
    assert (oauth.status_code, oauth.json()["code"]) == (401, 124)
    assert own.status_code == 302
