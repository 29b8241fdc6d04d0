"""The full pipeline end to end against the demo world, on PostgreSQL, with crashes and races."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from zoom_fixtures import demo_plan_of, demo_world_settings

from config.settings import get_settings
from flows.pipeline import full_pipeline_flow
from integrations.captions import parse_vtt
from integrations.sandbox.demo import PUBLISHED, DemoRecording, DemoWorld, default_plan, transcript
from integrations.store.claims import LeaseClock
from integrations.store.repository import RecordingStore
from integrations.store.states import PlatformStatus, ProcessingStatus
from tasks.common import get_store

S = ProcessingStatus
RUN_PIPELINE = "from flows.pipeline import full_pipeline_flow; full_pipeline_flow()"
KILLED_LEASE = 3  # seconds: the killed run's heartbeat renews its leases every second
StartWorld = Callable[[list[DemoRecording]], DemoWorld]  # the `start_world` fixture


@pytest.fixture
def start_world(
    prefect_harness: None,
    empty_postgres: str,
    demo_media_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[StartWorld]:
    """Starts a demo world of the given plan: its emulators, credentials and settings, with an
    empty PostgreSQL store (stopped at the test's end)."""
    with ExitStack() as stack:

        def start(plan: list[DemoRecording]) -> DemoWorld:
            world = DemoWorld(tmp_path / "world", media_cache=demo_media_cache, plan=plan)
            stack.enter_context(world)
            stack.enter_context(demo_world_settings(world, monkeypatch, empty_postgres))
            return world

        yield start


@pytest.fixture
def world(start_world: StartWorld) -> DemoWorld:
    """The whole demo plan: seven lectures (one by a deactivated host), one too short, one
    silent."""
    return start_world(default_plan())


def lectures(world: DemoWorld) -> int:
    """How many of the world's recordings are lectures to publish."""
    return sum(1 for r in world.plan if r.expected == PUBLISHED)


def outcome(store: RecordingStore) -> Counter[str]:
    return Counter(r.status.value for r in store.list())


def assert_published_once(world: DemoWorld, store: RecordingStore) -> None:
    """Every lecture is on both platforms exactly once, and nothing else was published."""
    recordings = store.list()
    published = lectures(world)
    assert outcome(store) == Counter(UPLOADED=published, SKIPPED=len(world.plan) - published)
    youtube_ids = [
        p.remote_id for r in recordings for p in r.publications if p.platform.value == "youtube"
    ]
    assert len(youtube_ids) == published and set(youtube_ids) == set(world.youtube.videos)
    delivered_vk = [v for v in world.vk.videos.values() if v.get("size")]
    assert len(delivered_vk) == published
    for recording in recordings:
        for publication in recording.publications:
            assert publication.status == PlatformStatus.UPLOADED and publication.url


@pytest.mark.usefixtures("ffmpeg_build")
def test_full_pipeline_publishes_every_lecture_and_skips_the_rest(world: DemoWorld) -> None:
    store = RecordingStore(get_settings().resolved_database_url)

    state = full_pipeline_flow(return_state=True)

    assert state.is_completed(), state.message
    assert_published_once(world, store)
    reasons = {r.topic: r.status_reason for r in store.list() if r.status == S.SKIPPED}
    assert "duration 12 min" in reasons["Office hours"]
    assert "no sound" in reasons["Lab walkthrough (microphone muted)"]
    trims = [r for r in store.list() if r.status == S.UPLOADED]
    assert all(r.trim_start > 0 and r.trim_end > r.trim_start for r in trims)
    assert len({p["snippet"]["title"] for p in world.youtube.playlists.values()}) == len(
        world.youtube.playlists
    ), "a playlist was created twice"
    assert_captions_shifted(world, store)
    # A rerun (the UI's Retry does the same) finds nothing left to do and publishes nothing.
    videos_before = len(world.youtube.videos)
    again = full_pipeline_flow(return_state=True)
    assert again.is_completed() and len(world.youtube.videos) == videos_before
    assert len(world.youtube.captions) == 1, "captions were inserted again"
    store.dispose()


def assert_captions_shifted(world: DemoWorld, store: RecordingStore) -> None:
    """The one lecture with a Zoom transcript got it as captions, cues moved by the cut."""
    lecture = next(r for r in store.list() if r.topic == "Physics Lecture 1: Kinematics")
    (caption,) = world.youtube.captions
    youtube = next(p for p in lecture.publications if p.platform.value == "youtube")
    assert caption["snippet"]["videoId"] == youtube.remote_id
    sent = parse_vtt(world.youtube.caption_files[caption["id"]].decode())
    original = parse_vtt(transcript(next(r for r in default_plan() if r.transcript)).decode())
    cut_ms = round(lecture.trim_start * 1000)
    assert sent[0].start_ms == original[0].start_ms - cut_ms
    assert sent[-1].end_ms == original[-1].end_ms - cut_ms
    assert len(sent) == len(original)


class PipelineRuns:
    """Full-pipeline runs in their own processes; each keeps its output in a log file."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.logs: dict[subprocess.Popen[bytes], Path] = {}

    def start(self, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
        from prefect.settings import PREFECT_API_URL

        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), **extra_env}
        log = self.log_dir / f"pipeline-{len(self.logs)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", RUN_PIPELINE],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.logs[process] = log
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        """The end of what the run printed, for an assertion message."""
        return self.logs[process].read_text(errors="replace")[-6000:]

    def finish(self, process: subprocess.Popen[bytes], timeout: float = 240) -> None:
        """Wait for a run; a failed run's output ends up in the assertion message."""
        code = process.wait(timeout=timeout)
        assert code == 0, f"pipeline run exited {code}:\n{self.output(process)}"

    def kill_leftovers(self) -> None:
        for process in self.logs:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


@pytest.fixture
def pipeline_runs(tmp_path: Path) -> Iterator[PipelineRuns]:
    """Started runs never outlive their test: a leftover would claim the next test's rows."""
    runs = PipelineRuns(tmp_path)
    yield runs
    runs.kill_leftovers()


def test_a_run_killed_mid_pipeline_is_finished_by_the_next_with_nothing_twice(
    world: DemoWorld, pipeline_runs: PipelineRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RecordingStore(get_settings().resolved_database_url)
    killed = pipeline_runs.start({"LEASE_SECONDS": str(KILLED_LEASE)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = outcome(store)
        if statuses["UPLOADED"] >= 1 and statuses["UPLOADED"] < lectures(world):
            break
        if killed.poll() is not None:
            pytest.fail(f"the run ended before it could be killed:\n{pipeline_runs.output(killed)}")
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    in_flight = [r.id for r in store.list() if r.claimed_by]
    assert in_flight, "nothing was mid-stage when the run was killed"

    # The next run's lease clock is past the killed run's last renewal and lease.
    monkeypatch.setattr(get_store(), "clock", LeaseClock(timedelta(seconds=KILLED_LEASE + 1)))
    state = full_pipeline_flow(sync=False, return_state=True)

    assert state.is_completed(), state.message
    assert_published_once(world, store)
    sessions = list(world.youtube.sessions.values())
    sizes = {Path(r.processed_path).stat().st_size for r in store.list() if r.processed_path}
    assert sum(s.wire_bytes for s in sessions) <= sum(sizes) + 2 * 2**20 * len(sessions)
    store.dispose()


def test_two_runs_started_together_share_the_work_without_overlap(
    start_world: StartWorld, pipeline_runs: PipelineRuns
) -> None:
    world = start_world(
        demo_plan_of(
            "Physics Lecture 2: Newton's Laws",
            "Physics Lecture 3: Energy",
            "Python Advanced Lecture 1",
            "Office hours",
        )
    )
    store = RecordingStore(get_settings().resolved_database_url)
    first = pipeline_runs.start({})
    second = pipeline_runs.start({})
    pipeline_runs.finish(first)
    pipeline_runs.finish(second)

    assert_published_once(world, store)
    assert len(world.youtube.sessions) == lectures(world), "an upload was started twice"
    store.dispose()


def test_a_storage_no_run_keeps_alive_is_taken_over_by_another_which_downloads_again(
    world: DemoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.download import download_flow
    from flows.sync import sync_flow
    from integrations.storage_id import storage_id

    def machine(name: str) -> str:
        """This process becomes a worker with its own disk: MEDIA_DIR and its storage id."""
        monkeypatch.setenv("MEDIA_DIR", str(tmp_path / name))
        get_settings.cache_clear()
        return storage_id(tmp_path / name)

    store = RecordingStore(get_settings().resolved_database_url)
    machine_a = machine("machine-a")
    sync_flow()
    ids = [r.id for r in store.list(statuses=[S.INITIALIZED])][:2]
    download_flow(recording_ids=ids)
    assert [(r.status, r.storage) for r in store.list(ids=ids)] == [(S.DOWNLOADED, machine_a)] * 2
    from_zoom = len(world.zoom.calls("GET", r"^/rec/download/"))

    machine_b = machine("machine-b")
    assert full_pipeline_flow(sync=False, recording_ids=ids, return_state=True).is_completed()
    # Machine A's run renewed its storage moments ago: B leaves A's recordings to A.
    assert [(r.status, r.storage) for r in store.list(ids=ids)] == [(S.DOWNLOADED, machine_a)] * 2

    # Machine A is gone: no run renews its storage any more.
    store.touch_storage(machine_a, media_dir="gone", host="machine-a", lease_seconds=-1)
    state = full_pipeline_flow(sync=False, recording_ids=ids, return_state=True)

    assert state.is_completed(), state.message
    downloads = [r.path for r in world.zoom.calls("GET", r"^/rec/download/")]
    assert sorted(downloads[from_zoom:]) == sorted(downloads[:from_zoom]), "from Zoom again"
    for recording in store.list(ids=ids):
        assert (recording.status, recording.storage) == (S.UPLOADED, machine_b)
        assert Path(recording.processed_path).is_relative_to(tmp_path / "machine-b")
        assert {p.status for p in recording.publications} == {PlatformStatus.UPLOADED}
    assert len(world.youtube.videos) == 2
    assert len([v for v in world.vk.videos.values() if v.get("size")]) == 2
    store.dispose()


def test_zoom_storage_is_freed_only_for_verified_complete_publications(
    start_world: StartWorld,
) -> None:
    import json

    from flows.zoom_cleanup import free_zoom_storage_flow
    from integrations.store.publications import PublicationStore
    from integrations.store.states import Platform

    # Five lectures: four kept or warned of below, one freed without a word.
    world = start_world(
        demo_plan_of(
            "Physics Lecture 2: Newton's Laws",
            "Physics Lecture 3: Energy",
            "Weekly Seminar",
            "Python Advanced Lecture 1",
        )
    )
    store = RecordingStore(get_settings().resolved_database_url)
    assert full_pipeline_flow(return_state=True).is_completed()
    config_path = Path(os.environ["APP_CONFIG"])
    config = json.loads(config_path.read_text())
    config["upload_settings"]["delete_from_zoom"] = "trash"
    config_path.write_text(json.dumps(config))
    uploaded = [r for r in store.list() if r.status == S.UPLOADED]
    partial, rejected, processing, locked = uploaded[:4]
    PublicationStore(store).update(partial.id, Platform.VK, status=PlatformStatus.FAILED)

    def remote_id(recording: Any, platform: str) -> str:
        return next(p.remote_id for p in recording.publications if p.platform.value == platform)

    # What the services can say of a published video: YouTube rejected it (uploadStatus), VK is
    # still processing it, YouTube applied another privacy than asked (an unaudited project).
    world.youtube.set_upload_status(remote_id(rejected, "youtube"), "rejected", "duplicate")
    owner, _, video = remote_id(processing, "vk").partition("_")
    world.vk.video(int(owner), int(video))["ready_at"] = time.time() + 3600
    world.youtube.videos[remote_id(locked, "youtube")]["status"]["privacyStatus"] = "private"
    kept_ids = {partial.id, rejected.id, processing.id}

    def trashed() -> set[str]:
        return {m.uuid for m in world.zoom.meetings if any(f.trashed for f in m.files)}

    preview = free_zoom_storage_flow(dry_run=True)
    assert trashed() == set() and all(r.zoom_cleanup is None for r in store.list())
    assert sum(1 for row in preview if row["action"] == "trash") == len(uploaded) - len(kept_ids)

    done = free_zoom_storage_flow()

    expected = {r.zoom_uuid for r in uploaded if r.id not in kept_ids}
    assert trashed() == expected
    why = {row["id"]: row["why"] for row in done}
    assert next(row for row in done if row["id"] == partial.id)["action"] == "keep"
    assert "vk: FAILED" in why[partial.id]
    assert "has upload status rejected (duplicate), not processed" in why[rejected.id]
    assert "is still processing" in why[processing.id]
    configured = config["platforms"]["youtube"]["default_privacy"]
    assert f"youtube: privacy is private, configured {configured}" in why[locked.id]
    assert {r.id for r in store.list() if r.zoom_cleanup == "trash"} == {
        r.id for r in uploaded if r.id not in kept_ids
    }
    store.dispose()


def snapshot(store: RecordingStore) -> list[tuple[Any, ...]]:
    """Every column of every recording and publication, to compare before and after."""
    rows = []
    for recording in store.list():
        rows.append(tuple(getattr(recording, c.key) for c in recording.__table__.columns))
        for publication in recording.publications:
            rows.append(tuple(getattr(publication, c.key) for c in publication.__table__.columns))
    return rows


def writes(world: DemoWorld) -> list[str]:
    """Requests that could change something on a platform (token requests aside)."""
    seen = [*world.zoom.requests, *world.youtube.requests, *world.vk.requests]
    return [
        f"{r.method} {r.path}"
        for r in seen
        if r.method != "GET"
        and not r.path.endswith(("/token", "/oauth/token"))
        and not r.path.startswith("/method/video.get")
    ]


def test_dry_runs_change_nothing_in_the_store_or_on_the_platforms(
    start_world: StartWorld,
) -> None:
    from click.testing import CliRunner

    from flows.cli import main
    from flows.download import download_flow
    from flows.process import process_flow
    from flows.sync import sync_flow
    from flows.upload import upload_flow

    world = start_world(
        demo_plan_of(
            "Physics Lecture 1: Kinematics",
            "Python Advanced Lecture 1",
            "Office hours",
            "Lab walkthrough (microphone muted)",
        )
    )
    store = RecordingStore(get_settings().resolved_database_url)
    preview = full_pipeline_flow(dry_run=True)
    assert [row["would"] for row in preview["sync"]] == ["added"] * len(world.plan)
    assert store.list() == [] and writes(world) == []
    assert not world.youtube.requests and not world.vk.requests

    sync_flow()
    download_flow()
    before = snapshot(store)
    cut = {row["topic"]: row for row in process_flow(dry_run=True)}
    assert snapshot(store) == before
    assert cut["Lab walkthrough (microphone muted)"]["would"] == "skip: no sound at all"
    kinematics = cut["Physics Lecture 1: Kinematics"]
    assert kinematics["would"] == "cut" and kinematics["start"] == pytest.approx(7.0, abs=0.05)
    assert not (Path(os.environ["MEDIA_DIR"]) / "processed_video").exists()

    process_flow()
    before = snapshot(store)
    planned = upload_flow(platforms=None, dry_run=True)
    assert {(row["platform"], row["would"]) for row in planned} == {
        ("youtube", "publish"),
        ("vk", "publish"),
    }
    assert any(row["collection"] == "Physics lectures" for row in planned)
    result = CliRunner().invoke(main, ["full-process", "--all", "--dry-run", "--no-sync"])
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was changed." in result.output
    assert snapshot(store) == before
    assert writes(world) == [] and not world.youtube.requests
    store.dispose()
