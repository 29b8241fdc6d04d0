"""The download stage end to end: sync from the Zoom emulator, then the download flow and CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from media_factory import MediaSpec, make_media
from zoom_fixtures import save_block, zoom_sandbox

from flows.cli import main
from flows.download import download_flow
from flows.sync import sync_flow
from integrations.sandbox.server import Fault
from integrations.sandbox.zoom import FileSpec, SandboxMeeting
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus

S = ProcessingStatus
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [make_media(folder / f"clip{n}.mp4", MediaSpec(duration=2 + n)) for n in range(3)]


@pytest.fixture
def small_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN_SIZE_MB", "0")
    monkeypatch.setenv("MIN_DURATION_MIN", "0")


def test_download_flow_fetches_verifies_joins_and_fails_one_cleanly(
    prefect_harness: None,
    store: RecordingStore,
    small_filters: None,
    clips: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with zoom_sandbox(monkeypatch) as zoom:
        account = zoom.add_account("school@example.com")
        save_block(account)
        user = zoom.add_user(account)
        single = zoom.add_meeting(
            account,
            user,
            topic="Algebra / week 1: ../intro",
            start_time=START,
            files=[FileSpec(path=clips[0])],
        )
        split = zoom.add_meeting(
            account,
            user,
            topic="Stopped and restarted",
            start_time=START + timedelta(hours=1),
            files=[FileSpec(path=clips[1]), FileSpec(path=clips[2], offset_min=30)],
        )
        lying = zoom.add_meeting(
            account,
            user,
            topic="Size lies",
            start_time=START + timedelta(hours=2),
            files=[FileSpec(path=clips[0], reported_size=clips[0].stat().st_size + 10)],
        )
        # The single file's download is cut after 20 kB: resumed from there, not restarted.
        zoom.inject(Fault(rf"^/storage/{single.files[0].key}$", "GET", cut_after_bytes=20_000))
        sync_flow(last_days=3)
        rows = {r.zoom_uuid: r for r in store.list()}

        state = download_flow(return_state=True)

        assert state.is_failed()
        assert f"{rows[lying.uuid].id} (Size lies)" in state.message
        done = {uuid: store.get(rows[uuid].id) for uuid in (single.uuid, split.uuid)}
        for row in done.values():
            assert row.status == S.DOWNLOADED
            path = Path(row.source_path)
            assert path.is_file() and path.parent == tmp_path / "video" / "unprocessed_video"
        assert Path(done[single.uuid].source_path).read_bytes() == clips[0].read_bytes()
        assert "/" not in Path(done[single.uuid].source_path).name.removesuffix(".mp4")[3:]
        failed = store.get(rows[lying.uuid].id)
        assert failed.status == S.FAILED and "size" in failed.status_reason.lower()
        leftovers = [p.name for p in (tmp_path / "video" / "unprocessed_video").iterdir()]
        assert not [name for name in leftovers if name.endswith(".mp4") and "Size" in name]
        ranges = [r.header("range") for r in zoom.requests if r.header("range")]
        assert "bytes=20000-" in ranges, ranges

        # The next run retries only the failed one; the downloaded ones are not fetched again.
        fetched_before = len(zoom.calls("GET", r"/storage/|/rec/"))
        again = download_flow(return_state=True)
        assert again.is_failed()
        assert len(zoom.calls("GET", r"/storage/|/rec/")) - fetched_before <= 4


def test_download_command_runs_the_flow_with_a_selection(
    prefect_harness: None,
    store: RecordingStore,
    small_filters: None,
    clips: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with zoom_sandbox(monkeypatch) as zoom:
        account = zoom.add_account("team@example.com")
        save_block(account)
        user = zoom.add_user(account)
        for n in range(2):
            zoom.add_meeting(
                account,
                user,
                topic=f"Talk {n}",
                start_time=START + timedelta(hours=n),
                files=[FileSpec(path=clips[n])],
            )
        sync_flow(last_days=3)
        first, second = store.list()

        result = CliRunner().invoke(main, ["download", "--recordings", str(second.id)])

        assert result.exit_code == 0, result.output
        assert store.get(second.id).status == S.DOWNLOADED
        assert store.get(first.id).status == S.INITIALIZED
        missing = CliRunner().invoke(main, ["download", "--recordings", "999"])
        assert missing.exit_code == 2 and "no recording with ID 999" in missing.output


TRANSCRIPT = b"WEBVTT\n\n1\n00:00:00.500 --> 00:00:01.500\nAnn: the transcript\n"
CAPTIONS = b"WEBVTT\n\n1\n00:00:00.400 --> 00:00:01.900\nAnn: the closed captions\n"


def test_closed_captions_and_timelines_never_block_the_video(
    prefect_harness: None,
    store: RecordingStore,
    small_filters: None,
    clips: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Zoom lists CC and TIMELINE files without id or size: the video downloads, captions come
    from the transcript, else from the CC file (checked by the server's length and as WebVTT),
    and a CC file that fails leaves the recording without captions, not FAILED."""
    with zoom_sandbox(monkeypatch) as zoom:
        account = zoom.add_account("school@example.com")
        save_block(account)
        user = zoom.add_user(account)

        def meeting(hour: int, *extra: FileSpec) -> SandboxMeeting:
            files = [FileSpec(path=clips[hour % 3]), *extra]
            start = START + timedelta(hours=hour)
            return zoom.add_meeting(account, user, topic=f"T{hour}", start_time=start, files=files)

        timeline = FileSpec("timeline", data=b'{"timeline": []}')
        both = meeting(
            0,
            FileSpec("closed_caption", data=CAPTIONS),
            timeline,
            FileSpec("audio_transcript", data=TRANSCRIPT),
        )
        cc_only = meeting(1, FileSpec("closed_caption", data=CAPTIONS), timeline)
        not_vtt = meeting(2, FileSpec("closed_caption", data=b"<html>Sign in</html>"))
        refused = meeting(3, FileSpec("closed_caption", data=CAPTIONS))
        zoom.inject(Fault(rf"^/rec/download/{refused.files[1].key}$", "GET", 404, times=9))
        sync_flow(last_days=3)

        state = download_flow(return_state=True)

        assert state.is_completed(), state.message
        rows = {r.zoom_uuid: r for r in store.list()}
        for m in (both, cc_only, not_vtt, refused):
            assert rows[m.uuid].status == S.DOWNLOADED, rows[m.uuid].status_reason
        video = {m.uuid: Path(rows[m.uuid].source_path) for m in (both, cc_only, not_vtt, refused)}
        assert video[both.uuid].read_bytes() == clips[0].read_bytes()
        assert video[both.uuid].with_suffix(".vtt").read_bytes() == TRANSCRIPT
        assert video[cc_only.uuid].with_suffix(".vtt").read_bytes() == CAPTIONS
        for m in (not_vtt, refused):
            assert video[m.uuid].is_file() and not video[m.uuid].with_suffix(".vtt").exists()
        leftovers = [p.name for p in video[both.uuid].parent.iterdir() if p.suffix == ".part"]
        assert leftovers == []
        # Never fetched: the CC file beside a transcript, and every TIMELINE.
        for f in (both.files[1], both.files[2], cc_only.files[2]):
            assert zoom.calls("GET", rf"^/rec/download/{f.key}$") == [], f.file_type


def test_a_daily_limit_on_the_download_waits_without_using_an_attempt(
    prefect_harness: None,
    store: RecordingStore,
    small_filters: None,
    clips: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reset = (datetime.now(UTC) + timedelta(hours=20)).replace(second=0, microsecond=0)
    with zoom_sandbox(monkeypatch) as zoom:
        account = zoom.add_account("limited@example.com")
        save_block(account)
        user = zoom.add_user(account)
        zoom.add_meeting(
            account, user, topic="Limited", start_time=START, files=[FileSpec(path=clips[0])]
        )
        sync_flow(last_days=3)
        zoom.daily_limit(r"^/rec/download/", reset, times=10)

        download_flow()

        row = store.list()[0]
        assert row.status == S.INITIALIZED and row.attempts == 0
        assert row.not_before == reset
        assert row.status_reason == (
            f"waiting: Zoom accepts requests again at {reset:%Y-%m-%d %H:%M} UTC"
        )
        assert len(zoom.calls("GET", r"^/rec/download/")) == 1  # not retried within the run
