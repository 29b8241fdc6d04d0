"""The sync flow against the Zoom emulator: every account, user, window, page; filters; reruns."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from zoom_fixtures import save_block, zoom_sandbox

from config.blocks import ZoomAccount as ZoomAccountBlock
from flows.cli import main
from flows.sync import sync_flow
from integrations.sandbox.zoom import FileSpec, ZoomEmulator
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus
from tasks.sync import WAITING_FOR_ZOOM, zoom_account

S = ProcessingStatus
MIB = 1024 * 1024
TODAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
BIG = [FileSpec(size=60 * MIB), FileSpec("audio_only", size=MIB)]


def populate(zoom: ZoomEmulator) -> dict[str, str]:
    """Two accounts x two users, 45 days, more meetings than a page; returns uuid -> topic."""
    expected: dict[str, str] = {}
    for a in range(2):
        account = zoom.add_account(f"school{a}@example.com")
        save_block(account)
        for u in range(2):
            user = zoom.add_user(account)
            for day in range(0, 45, 6):
                topic = f"Lecture a{a} u{u} d{day}"
                meeting = zoom.add_meeting(
                    account,
                    user,
                    topic=topic,
                    start_time=TODAY - timedelta(days=day),
                    duration=90,
                    files=list(BIG),
                )
                expected[meeting.uuid] = topic
    return expected


def test_sync_stores_every_instance_once_and_a_rerun_changes_nothing(
    prefect_harness: None, store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with zoom_sandbox(monkeypatch, page_size_cap=3) as zoom:
        expected = populate(zoom)
        account = next(iter(zoom.accounts.values()))
        user = next(u for u in zoom.users.values() if u.account_id == account.account_id)
        recurring = zoom.add_meeting(
            account,
            user,
            topic="Weekly seminar",
            start_time=TODAY - timedelta(days=8),
            files=list(BIG),
        )
        again = zoom.add_meeting(
            account,
            user,
            topic="Weekly seminar",
            meeting_id=recurring.id,
            start_time=TODAY - timedelta(days=1),
            uuid="/ab//cd+ef==",
            files=list(BIG),
        )
        short = zoom.add_meeting(
            account,
            user,
            topic="Quick call",
            duration=12,
            start_time=TODAY - timedelta(days=2),
            files=list(BIG),
        )
        small = zoom.add_meeting(
            account,
            user,
            topic="Tiny",
            duration=60,
            start_time=TODAY - timedelta(days=3),
            files=[FileSpec(size=5 * MIB)],
        )
        busy = zoom.add_meeting(
            account,
            user,
            topic="Still encoding",
            duration=60,
            start_time=TODAY - timedelta(days=4),
            files=[FileSpec(size=80 * MIB, status="processing")],
        )

        first = sync_flow(last_days=50)
        rows = {r.zoom_uuid: r for r in store.list()}

        assert first["added"] == len(expected) + 5
        assert set(expected) <= set(rows)
        assert {rows[recurring.uuid].zoom_meeting_id, rows[again.uuid].zoom_meeting_id} == {
            str(recurring.id)
        }
        assert rows[again.uuid].status == S.INITIALIZED
        assert rows[short.uuid].status == S.SKIPPED
        assert "duration 12 min" in rows[short.uuid].status_reason
        assert rows[small.uuid].status == S.SKIPPED and "MP4 size" in rows[small.uuid].status_reason
        assert (rows[busy.uuid].status, rows[busy.uuid].status_reason) == (
            S.SKIPPED,
            WAITING_FOR_ZOOM,
        )
        mp4 = rows[again.uuid].video_files
        assert [f["recording_type"] for f in mp4] == ["shared_screen_with_speaker_view"]
        assert mp4[0]["size"] == 60 * MIB
        listed = zoom.calls("GET", r"/v2/users/[^/]+/recordings$")
        assert {r.query["page_size"] for r in listed} == {"300"}
        assert any(r.query.get("next_page_token") for r in listed), "paging was not exercised"

        # A recording in progress keeps its status; Zoom's new topic is taken over.
        in_progress = rows[again.uuid]
        store.claim("download", "someone", lease_seconds=600, ids=[in_progress.id])
        next(m for m in zoom.meetings if m.uuid == again.uuid).topic = "Weekly seminar (renamed)"
        for f in next(m for m in zoom.meetings if m.uuid == busy.uuid).files:
            f.spec.status = "completed"

        second = sync_flow(last_days=50)

        assert second == {"unchanged": len(expected) + 3, "updated": 2}
        renamed = store.get(in_progress.id)
        assert (renamed.topic, renamed.status) == ("Weekly seminar (renamed)", S.DOWNLOADING)
        assert store.get(rows[busy.uuid].id).status == S.INITIALIZED
        assert sync_flow(last_days=50) == {"unchanged": len(expected) + 5}


def test_a_daily_limit_defers_one_account_and_the_others_sync(
    prefect_harness: None,
    store: RecordingStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with zoom_sandbox(monkeypatch) as zoom:
        limited = zoom.add_account("limited@example.com")
        save_block(limited)
        held = zoom.add_meeting(
            limited, zoom.add_user(limited), topic="Held back", start_time=TODAY, files=list(BIG)
        )
        other = zoom.add_account("other@example.com")
        save_block(other)
        host = zoom.add_user(other)
        former = zoom.add_user(other, status="inactive")
        synced = {
            zoom.add_meeting(other, host, topic="Current", start_time=TODAY, files=list(BIG)).uuid,
            zoom.add_meeting(
                other, former, topic="By a deactivated host", start_time=TODAY, files=list(BIG)
            ).uuid,
        }
        now = datetime.now(UTC).replace(microsecond=0)
        far = now + timedelta(hours=20)
        held_path = rf"^/v2/users/{held.host_id}/recordings$"
        zoom.daily_limit(held_path, far, times=100)
        zoom.daily_limit(rf"^/v2/users/{former.id}/recordings$", now + timedelta(seconds=2))

        state = sync_flow(last_days=3, return_state=True)

        assert state.is_completed(), state.message
        assert state.result() == {"added": 2, "deferred": 1}
        assert {r.zoom_uuid for r in store.list()} == synced
        when = f"{far:%Y-%m-%dT%H:%M:%SZ}"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("limited@example.com" in m and "deferred" in m and when in m for m in warnings)
        report = json.loads(Artifact.get("sync-report").data)
        rows = {row["account"]: row for row in report}
        assert when in rows["limited@example.com"]["deferred"]
        assert rows["other@example.com"]["added"] == 2 and not rows["other@example.com"]["deferred"]
        flow_run_id = state.state_details.flow_run_id
        with get_client(sync_client=True) as client:
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        assert tasks and all(t.state is not None and t.state.is_completed() for t in tasks)
        assert len(zoom.calls("GET", held_path)) == 1  # asked once: no blind retries
        command = CliRunner().invoke(main, ["sync", "--last", "3"])
        assert command.exit_code == 0, command.output
        assert "1 Zoom account(s) deferred: Zoom asked to come back" in command.output

        zoom.faults.clear()  # the reset has passed
        assert sync_flow(last_days=3) == {"added": 1, "unchanged": 2}
        assert held.uuid in {r.zoom_uuid for r in store.list()}


def test_a_sync_stores_each_accounts_window_in_one_insert_and_a_resync_writes_nothing(
    prefect_harness: None, store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zoom's pages of 10 come back as one window per account: one INSERT each; the tasks take
    an account's block name and dates and give back counts, one task per account, and find
    their block among those the flow loaded in one request (a task elsewhere loads its own)."""
    from sqlalchemy import event

    from tasks.common import get_store

    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    with zoom_sandbox(monkeypatch, page_size_cap=10) as zoom:
        blocks = []
        for a in range(2):
            account = zoom.add_account(f"batch{a}@example.com")
            blocks.append(save_block(account))
            for u in range(2):
                user = zoom.add_user(account)
                for n in range(15):
                    zoom.add_meeting(
                        account,
                        user,
                        topic=f"Batch lecture {a}-{u}-{n}",
                        start_time=TODAY - timedelta(hours=5 * n + u),
                        duration=90,
                        files=list(BIG),
                    )
        loads: list[str] = []
        load = ZoomAccountBlock.load
        monkeypatch.setattr(
            ZoomAccountBlock, "load", lambda name, **kw: loads.append(name) or load(name, **kw)
        )
        engine = get_store().engine
        event.listen(engine, "before_cursor_execute", note)
        try:
            first = sync_flow(last_days=5, return_state=True)
            inserts = statements.count("INSERT")
            statements.clear()
            second = sync_flow(last_days=5)
        finally:
            event.remove(engine, "before_cursor_execute", note)

        assert loads == []
        assert zoom_account(blocks[1]).name == "batch1@example.com"
        assert loads == [blocks[1]]

    assert first.result() == {"added": 60}
    assert inserts == 2  # one per account: its window of 30 instances over 3 pages per host
    assert second == {"unchanged": 60}
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[first.state_details.flow_run_id])
            )
        )
    assert sorted(t.name for t in tasks) == sorted(f"sync-{block}" for block in blocks)
    for a in range(2):  # IDs follow start times within an account, as before
        rows = [r for r in store.list() if r.account == f"batch{a}@example.com"]
        assert [r.id for r in rows] == sorted(r.id for r in rows)
