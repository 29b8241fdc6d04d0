"""What an accepted `recording.completed` leads to: the instance stored and one pipeline run."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import warnings
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from zoom_fixtures import forget_zoom_blocks, save_block

from config.secrets import WEBHOOK_SECRET_BLOCK, webhook_secret_token
from config.settings import get_settings
from flows.cli.webhook import webhook
from flows.webhook_runs import InProcessRunner, PipelineStarter, RecordingCompletedHandler
from integrations.sandbox.zoom import SandboxAccount
from integrations.store.models import Recording
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus
from integrations.webhook.app import create_app
from integrations.webhook.signature import sign

with warnings.catch_warnings():  # Starlette 1.x: "use httpx2" (not available here)
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

S = ProcessingStatus
MIB = 1024 * 1024
SECRET = "whsec-test-token-0123456789"
DOWNLOAD_TOKEN = "dl-token-must-never-be-kept-9f8e7d"
NOW = 1_760_000_000.0
ACCOUNT = SandboxAccount("school@example.com", "acct-school-1", "client-1", "client-secret-1")


def meeting(uuid: str = "inst/+A1==", *, duration: int = 90, size: int = 80 * MIB) -> dict:
    """`payload.object` of a recording.completed: a meeting instance like the recordings list."""
    start = "2025-10-09T10:00:00Z"
    base = f"https://zoom.example/rec/download/{uuid.strip('=/+')}"

    def file(file_id: str, kind: str, view: str, size: int, ext: str) -> dict:
        return {
            "id": file_id,
            "meeting_id": uuid,
            "recording_start": start,
            "recording_end": "2025-10-09T11:30:00Z",
            "file_type": kind,
            "file_extension": ext,
            "file_size": size,
            "download_url": f"{base}/{file_id}",
            "status": "completed",
            "recording_type": view,
        }

    return {
        "uuid": uuid,
        "id": 81234567890,
        "host_id": "host-1",
        "topic": "Linear algebra, lecture 4",
        "type": 8,
        "start_time": start,
        "duration": duration,
        "total_size": size + 3 * MIB,
        "recording_count": 3,
        "recording_files": [
            file("mp4-screen", "MP4", "shared_screen_with_speaker_view", size, "MP4"),
            file("mp4-gallery", "MP4", "gallery_view", size // 2, "MP4"),
            file("m4a", "M4A", "audio_only", 3 * MIB, "M4A"),
        ],
    }


def completed(obj: dict, *, account_id: str = ACCOUNT.account_id, event_ts: int = 1) -> dict:
    return {
        "event": "recording.completed",
        "event_ts": event_ts,
        "payload": {"account_id": account_id, "object": obj},
        "download_token": DOWNLOAD_TOKEN,
    }


def post(client: TestClient, event: dict, *, secret: str = SECRET, timestamp: float = NOW):
    body = json.dumps(event).encode()
    ts = str(int(timestamp))
    headers = {
        "content-type": "application/json",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": sign(secret, ts, body),
    }
    response = client.post("/zoom/webhook", content=body, headers=headers)
    client.app.state.webhook.drain(timeout=30)
    return response


@pytest.fixture
def zoom_account(prefect_harness: None) -> Iterator[SandboxAccount]:
    """One Zoom account saved as a block, as `credentials import` would."""
    forget_zoom_blocks()
    save_block(ACCOUNT)
    yield ACCOUNT
    forget_zoom_blocks()


@pytest.fixture
def started() -> list[int]:
    return []


@pytest.fixture
def client(store: RecordingStore, started: list[int], zoom_account: SandboxAccount):
    handler = RecordingCompletedHandler(store, starter=started.append)
    with TestClient(create_app(SECRET, handler, clock=lambda: NOW)) as test_client:
        yield test_client


def rows(store: RecordingStore) -> list[Recording]:
    with store.session() as session:
        return list(session.scalars(select(Recording).order_by(Recording.id)))


def test_recording_completed_stores_the_instance_and_starts_one_run(
    client: TestClient, store: RecordingStore, started: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    response = post(client, completed(meeting()))

    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    [row] = rows(store)
    assert row.status == S.INITIALIZED
    assert (row.zoom_uuid, row.account, row.topic) == (
        "inst/+A1==",
        ACCOUNT.name,
        "Linear algebra, lecture 4",
    )
    assert [f["id"] for f in row.video_files] == ["mp4-screen"]  # the preferred view only
    assert row.video_files[0]["size"] == 80 * MIB
    assert row.video_files[0]["download_url"] is None  # the event's URL needs its token
    assert started == [row.id]
    kept = json.dumps([row.video_files, row.transcript_file]) + caplog.text
    assert DOWNLOAD_TOKEN not in kept and SECRET not in caplog.text


def test_duplicates_and_zoom_retries_start_one_run(
    client: TestClient, store: RecordingStore, started: list[int]
) -> None:
    event = completed(meeting())
    first = post(client, event)
    again = post(client, event)  # the same delivery twice
    retry = post(client, event, timestamp=NOW + 60)  # Zoom's retry: same event, new stamp
    another = post(client, completed(meeting(), event_ts=2))  # a second event for the instance

    assert first.json()["status"] == "accepted"
    assert {r.json()["status"] for r in (again, retry, another)} == {"duplicate"}
    [row] = rows(store)
    assert started == [row.id]


def test_a_redelivery_the_app_accepts_again_does_not_start_twice(
    store: RecordingStore, started: list[int], zoom_account: SandboxAccount
) -> None:
    handler = RecordingCompletedHandler(store, starter=started.append)
    job = {**meeting(), "account_id": ACCOUNT.account_id, "download_token": DOWNLOAD_TOKEN}

    first, second = handler(job), handler(job)

    assert first.started and first.stored == "added"
    assert not second.started and second.stored == "unchanged"
    assert started == [first.recording_id]


def test_an_account_not_configured_yet_is_stored_and_waits_saying_so_once(
    client: TestClient, store: RecordingStore, started: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    first = post(client, completed(meeting("inst-a=="), account_id="someone-else"))
    second = post(client, completed(meeting("inst-b=="), account_id="someone-else"))

    assert first.status_code == second.status_code == 200
    stored = rows(store)
    assert [r.zoom_uuid for r in stored] == ["inst-a==", "inst-b=="]
    assert {r.account for r in stored} == {"someone-else"}
    assert {r.status for r in stored} == {S.INITIALIZED}
    assert started == [], "nothing can download it before the account is imported"
    assert caplog.text.count("no configured Zoom account can fetch the files") == 1


def test_a_too_short_recording_is_stored_skipped_and_starts_nothing(
    client: TestClient, store: RecordingStore, started: list[int]
) -> None:
    post(client, completed(meeting(duration=12)))

    [row] = rows(store)
    assert row.status == S.SKIPPED and "duration 12 min" in (row.status_reason or "")
    assert started == []


def test_a_bad_signature_stores_nothing(
    client: TestClient, store: RecordingStore, started: list[int]
) -> None:
    forged = post(client, completed(meeting()), secret="not-the-secret")
    stale = post(client, completed(meeting()), timestamp=NOW - 301)

    assert forged.status_code == 401 and forged.json()["error"] == "invalid_signature"
    assert stale.status_code == 401 and stale.json()["error"] == "stale_request"
    assert rows(store) == [] and started == []


def test_without_a_secret_token_the_command_says_how_to_set_one(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    monkeypatch.delenv("ZOOM_WEBHOOK_SECRET_TOKEN", raising=False)
    with contextlib.suppress(ValueError):  # "Unable to find block document named ..."
        Secret.delete(WEBHOOK_SECRET_BLOCK)

    result = CliRunner().invoke(webhook, ["--port", "8099"])

    assert result.exit_code == 1
    assert "ZOOM_WEBHOOK_SECRET_TOKEN" in result.output and WEBHOOK_SECRET_BLOCK in result.output
    assert "Traceback" not in result.output


def test_the_secret_token_comes_from_the_environment_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", " 0123456789 ")
    get_settings.cache_clear()

    assert webhook_secret_token() == "0123456789"
    assert "0123456789" not in repr(get_settings())


def test_a_missing_deployment_falls_back_to_a_run_in_this_process(
    prefect_harness: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_DEPLOYMENT", "full-pipeline/not-deployed-here")
    get_settings.cache_clear()
    local: list[int] = []
    starter = PipelineStarter(local=local.append, server_configured=lambda: True)

    starter(7)

    assert local == [7]
    assert "full-pipeline/not-deployed-here does not exist" in caplog.text


def test_with_a_server_the_deployment_gets_a_run_for_the_recording(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from flows.pipeline import full_pipeline_flow

    deployment_id = full_pipeline_flow.to_deployment(name="webhook-test").apply()
    monkeypatch.setenv("WEBHOOK_DEPLOYMENT", "full-pipeline/webhook-test")
    get_settings.cache_clear()
    local: list[int] = []

    PipelineStarter(local=local.append, server_configured=lambda: True)(7)

    with get_client(sync_client=True) as prefect:
        ours = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        [run] = prefect.read_flow_runs(deployment_filter=ours)  # no worker: it stays scheduled
        try:
            assert run.deployment_id == deployment_id and local == []
            assert run.parameters == {"recording_ids": [7], "sync": False}
        finally:
            prefect.delete_flow_run(run.id)
            prefect.delete_deployment(deployment_id)


def test_in_process_runs_go_one_at_a_time_and_batch_what_waited() -> None:
    gate = threading.Event()
    runs: list[list[int]] = []

    def run(ids: list[int]) -> None:
        runs.append(ids)
        gate.wait(10)

    runner = InProcessRunner(run)
    runner(1)
    while not runs:  # the first run is busy
        threading.Event().wait(0.01)
    runner(2)
    runner(3)
    runner(3)
    gate.set()

    assert runner.wait_idle(10)
    assert runs == [[1], [2, 3]]
