"""A full or read-only media disk in the pipeline is a wait, not a failure (issue 20, item 3).

MEDIA_DIR is a small tmpfs (root only: skipped, saying why, elsewhere). Three short lectures:
one already cut (its upload needs no disk space and goes on), one downloaded (its cut waits),
one new (its download waits). The waiting recordings keep their attempts; the next run with
space publishes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from disk_mounts import fill, remount, tmpfs
from zoom_fixtures import demo_world_settings

from config.settings import get_settings
from flows.cli import main
from flows.download import download_flow
from flows.pipeline import full_pipeline_flow
from flows.process import process_flow
from flows.sync import sync_flow
from integrations.sandbox.demo import DemoRecording, DemoWorld, LectureSpec
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus

S = ProcessingStatus
HOST = "ann.lee@physics.demo.edu"
TOPICS = ("Lecture A", "Lecture B", "Lecture C")  # oldest first: the order of the stages
RESERVE_MB = 1


def plan() -> list[DemoRecording]:
    """Three 24 s lectures (about 0.4 MB each, 8 s silent at each end), reported as an hour long."""
    return [
        DemoRecording(
            "physics", HOST, topic, 3 - n, 9, 60, LectureSpec(24, 8, 8, tone_hz=200 + 20 * n)
        )
        for n, topic in enumerate(TOPICS)
    ]


@pytest.fixture
def media_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with tmpfs(tmp_path / "media", "8m") as folder:
        monkeypatch.setenv("MEDIA_DIR", str(folder))
        monkeypatch.setenv("MIN_FREE_DISK_MB", str(RESERVE_MB))
        get_settings.cache_clear()
        yield folder


@pytest.fixture
def world(
    prefect_harness: None,
    empty_postgres: str,
    media_disk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DemoWorld]:
    # Its own media cache: the three short lectures only, not the default plan's nine.
    # MIN_SIZE_MB=0: the short lectures pass the sync's size filter.
    with (
        DemoWorld(tmp_path / "world", plan=plan()) as demo,
        demo_world_settings(demo, monkeypatch, empty_postgres, MIN_SIZE_MB="0"),
    ):
        yield demo


def rows(store: RecordingStore) -> dict[str, object]:
    return {r.topic: r for r in store.list()}


def test_a_full_then_read_only_media_disk_makes_recordings_wait_until_there_is_room(
    world: DemoWorld, media_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = RecordingStore(get_settings().resolved_database_url)
    sync_flow()
    ids = {r.topic: r.id for r in store.list()}
    a, b = ids["Lecture A"], ids["Lecture B"]
    download_flow(recording_ids=[a, b])
    process_flow(recording_ids=[a])
    # Room for the reserve and a little more: neither B's cut nor C's download fits.
    filler = fill(media_disk, leave=RESERVE_MB * 2**20 + 64 * 1024)

    state = full_pipeline_flow(sync=False, return_state=True)

    assert state.is_completed(), state.message  # waiting is not failing
    now = rows(store)
    assert now["Lecture A"].status == S.UPLOADED  # the upload needed no disk space
    for topic, status, folder in (
        ("Lecture B", S.DOWNLOADED, "processing"),
        ("Lecture C", S.INITIALIZED, "unprocessed_video"),
    ):
        row = now[topic]
        assert (row.status, row.attempts) == (status, 0), row.status_reason
        assert row.status_reason.startswith(
            f"waiting for the disk: not enough free space in {media_disk / folder} for "
        ), row.status_reason
        assert f"the {RESERVE_MB} MB reserve (MIN_FREE_DISK_MB) needed" in row.status_reason
    waits = [r.getMessage() for r in caplog.records if "waits for the disk" in r.getMessage()]
    assert len(waits) == 2, waits  # once per stage
    listed = CliRunner().invoke(main, ["list", "--all"])
    assert listed.exit_code == 0 and listed.output.count("waiting for the disk") == 2
    assert sorted(p.name for p in (media_disk / "processing").iterdir()) == []

    filler.unlink()
    remount(media_disk, "ro")
    command = CliRunner().invoke(main, ["full-process", "--all", "--no-sync"])
    remount(media_disk, "rw")

    assert command.exit_code == 2, command.output  # the command says the disk stopped it
    assert "Traceback" not in command.output
    errors = [line for line in command.stderr.splitlines() if "waits for the disk" in line]
    assert len(errors) == 2 and all("read-only file system" in e for e in errors), errors
    for topic in TOPICS[1:]:
        row = rows(store)[topic]
        assert row.attempts == 0 and "read-only file system" in row.status_reason, row

    state = full_pipeline_flow(sync=False, return_state=True)

    assert state.is_completed(), state.message
    assert {r.status for r in store.list()} == {S.UPLOADED}
    assert len(world.youtube.videos) == 3
    store.dispose()
