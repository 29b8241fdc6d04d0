"""The upload task and flow against the YouTube and VK emulators, on the real status store.

Task-level tests call `upload_recording.fn` on a row claimed by hand (both store backends);
flow-level tests run `upload_flow` under the shared Prefect harness on PostgreSQL. The media is
a small MP4 made by FFmpeg; the YouTube chunk size is 1 MiB (the config's smallest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from prefect.states import State

from config.blocks import VK_BLOCK, YOUTUBE_BLOCK, VkCredentials, YouTubeCredentials
from config.prefect_sync import one_api_client
from config.settings import get_settings
from flows.cli import main
from integrations.media.ffmpeg import ffmpeg_binary
from integrations.sandbox.server import Fault, LoopbackServer
from integrations.sandbox.vk import VkEmulator
from integrations.store.claims import LeaseClock
from integrations.store.publications import PublicationStore
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus
from integrations.vk import VkClient, next_moscow_midnight
from integrations.youtube import UPLOAD_BUCKET, VideoMetadata, YouTubeClient, next_pacific_midnight
from tasks.common import get_store
from tasks.upload import upload_recording, youtube_marker
from tests.factories import add_recording
from tests.youtube_contract import RecordingYouTubeEmulator, contract_problems

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
GROUP = 123
UPLOAD_PATH = r"/upload/youtube/v3/videos"
S = ProcessingStatus

postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MP4 of a bit over 3 MiB (noise does not compress), so it takes 4 chunks."""
    path = tmp_path_factory.mktemp("media") / "lecture.mp4"
    cmd = [
        ffmpeg_binary(), "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1.5",
        "-f", "lavfi", "-i", "sine=d=1.5",
        "-vf", "noise=alls=100:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
        "-c:a", "aac", "-shortest", str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    assert 3 * MIB < path.stat().st_size < 8 * MIB
    return path


@dataclass
class Sandbox:
    youtube: RecordingYouTubeEmulator
    vk: VkEmulator
    youtube_url: str
    vk_url: str
    config_path: Path
    thumbnails: Path

    def configure(self, **changes: Any) -> None:
        """Write the app config: both platforms on, 1 MiB chunks, fast retries."""
        config: dict[str, Any] = {
            "video_title_mapping": {
                "mapping_rules": [
                    {
                        "pattern": "Algebra",
                        "thumbnail": "algebra.jpg",
                        "youtube_playlist_title": "Algebra 2026",
                        "vk_album_title": "Algebra",
                        "tags": ["math"],
                    }
                ],
                "default_rules": {"youtube_title_template": "{original_title} ({date})"},
                "thumbnail_directory": str(self.thumbnails),
            },
            "platforms": {
                "youtube": {"enabled": True, "chunk_size_mb": 1},
                "vk": {"enabled": True, "group_id": str(GROUP), "no_comments": True},
            },
            "upload_settings": {"retry_attempts": 3, "retry_delay": 0.01},
        }
        for dotted, value in changes.items():
            *parents, leaf = dotted.split("__")
            node = config
            for key in parents:
                node = node[key]
            node[leaf] = value
        self.config_path.write_text(json.dumps(config))

    def secrets(self) -> list[str]:
        return [
            self.youtube.refresh_token,
            self.youtube.client_secret,
            *self.youtube.access_tokens,
            self.vk.token,
        ]


@pytest.fixture
def sandbox(prefect_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Both emulators; afterwards, YouTube's wire is held to its discovery document."""
    youtube, vk = RecordingYouTubeEmulator(), VkEmulator()
    with LoopbackServer(youtube) as yt_server, LoopbackServer(vk) as vk_server:
        monkeypatch.setenv("YOUTUBE_API_URL", yt_server.url)
        monkeypatch.setenv("VK_API_URL", vk_server.url + "/method/")
        get_settings.cache_clear()
        info = youtube.authorized_user_info()
        with one_api_client():
            YouTubeCredentials(
                client_id=info["client_id"],
                client_secret=info["client_secret"],
                refresh_token=info["refresh_token"],
                token_uri=info["token_uri"],
            ).save(YOUTUBE_BLOCK, overwrite=True)
            VkCredentials(access_token=vk.token, group_id=str(GROUP)).save(VK_BLOCK, overwrite=True)
        thumbnails = tmp_path / "thumbnails"
        thumbnails.mkdir()
        (thumbnails / "algebra.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
        box = Sandbox(
            youtube, vk, yt_server.url, vk_server.url, get_settings().app_config, thumbnails
        )
        box.configure()
        yield box
        get_settings.cache_clear()
    assert contract_problems(youtube) == []


def add_processed(store: RecordingStore, media: Path, **fields: Any):
    return add_recording(store, status=S.PROCESSED, processed_path=str(media), **fields)


def with_transcript(media: Path, folder: Path) -> Path:
    """A copy of the media with Zoom's transcript beside it (published as captions)."""
    copy = folder / media.name
    copy.write_bytes(media.read_bytes())
    copy.with_suffix(".vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n")
    return copy


def run_task(store: RecordingStore, recording_id: int, platforms: list[str]) -> Any:
    """Claim the row as a worker would and run the task's function (no Prefect run)."""
    assert store.claim("upload", "test-worker", lease_seconds=60, ids=[recording_id])
    return upload_recording.fn(recording_id, "test-worker", platforms)


def assert_failed(result: Any, text: str) -> str:
    """The task returned a Failed state whose message has `text`; returns the message."""
    assert isinstance(result, State) and result.is_failed(), result
    assert text in (result.message or ""), result.message
    return result.message or ""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publication(store: RecordingStore, recording_id: int, platform: Platform):
    found = store.get(recording_id).publication(platform)
    assert found is not None
    return found


# ---- flows (PostgreSQL) ---------------------------------------------------------------------


@postgres_only
def test_publishes_to_both_platforms_and_reuses_playlist_and_album(store, sandbox, media):
    from flows.upload import upload_flow

    first = add_processed(store, media, topic="Algebra lecture 1")
    second = add_processed(store, media, topic="Algebra lecture 2")

    result = upload_flow(platforms=["youtube", "vk"], recording_ids=[first.id, second.id])

    assert result["statuses"] == {"UPLOADED": 2}
    assert sorted(result["touched"]) == [first.id, second.id]
    yt, vk = sandbox.youtube, sandbox.vk
    assert len(yt.videos) == 2 and len(yt.playlists) == 1 and len(yt.playlist_items) == 2
    assert len(vk.albums) == 1
    (album_owner, album_id), _ = next(iter(vk.albums.items()))
    for row in (first, second):
        recording = store.get(row.id)
        assert recording.status == S.UPLOADED and recording.not_before is None
        on_youtube = publication(store, row.id, Platform.YOUTUBE)
        assert on_youtube.status == PlatformStatus.UPLOADED
        assert on_youtube.url == f"https://youtu.be/{on_youtube.remote_id}"
        assert on_youtube.thumbnail_done and on_youtube.collection_done
        assert on_youtube.bytes_confirmed == media.stat().st_size
        assert on_youtube.upload_session is None and on_youtube.attempts == 1
        video = yt.videos[on_youtube.remote_id]
        assert video["sha256"] == sha256(media)
        assert video["snippet"]["title"].startswith(f"Algebra lecture {row.id - first.id + 1} (")
        assert youtube_marker(recording.zoom_uuid) in video["snippet"]["description"]
        assert video["snippet"]["tags"] == ["math"] and video["snippet"]["categoryId"] == "27"
        assert video["status"]["privacyStatus"] == "unlisted"
        assert video["status"]["selfDeclaredMadeForKids"] is False
        assert on_youtube.remote_id in yt.thumbnails
        assert on_youtube.collection_id in yt.playlists

        on_vk = publication(store, row.id, Platform.VK)
        assert on_vk.status == PlatformStatus.UPLOADED
        owner, video_id = (int(x) for x in on_vk.remote_id.split("_"))
        assert on_vk.url == f"https://vk.com/video{owner}_{video_id}"
        stored = vk.video(owner, video_id)
        assert stored["sha256"] == sha256(media) and stored["no_comments"]
        assert stored["thumb"] and on_vk.thumbnail_done
        assert vk.in_album(album_owner, album_id, owner, video_id)
        assert on_vk.collection_id == str(album_id)
    assert len(yt.calls("POST", r"/youtube/v3/playlists$")) == 1
    assert len(vk.calls("POST", r"video\.addAlbum")) == 1

    units = PublicationStore(store).units_used(Platform.YOUTUBE, "default")
    assert units == sum(cost for _, cost in yt.quota_log if _ != "videos.insert")
    assert PublicationStore(store).units_used(Platform.YOUTUBE, UPLOAD_BUCKET) == 2

    # Nothing secret reached the store.
    stored_text = json.dumps(
        [
            {k: str(v) for k, v in vars(p).items() if not k.startswith("_")}
            for r in store.list()
            for p in r.publications
        ]
    )
    for secret in sandbox.secrets():
        assert secret not in stored_text


KILLED_RUN = """
import sys
from tasks.upload import upload_recording
upload_recording.fn(int(sys.argv[1]), sys.argv[2], ["youtube"])
"""


@postgres_only
def test_killed_mid_upload_resumes_from_the_server_byte(store, sandbox, media, monkeypatch):
    from prefect.settings import PREFECT_API_URL

    from flows.upload import upload_flow

    row = add_processed(store, media)
    lease = 2
    assert store.claim("upload", "doomed-worker", lease_seconds=lease, ids=[row.id])
    sandbox.youtube.stall_chunks, sandbox.youtube.stall_seconds = 100, 0.3  # slow answers
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "DATABASE_URL": store.url,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(row.id), "doomed-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            stored = store.get(row.id).publication(Platform.YOUTUBE)
            if stored is not None and stored.bytes_confirmed >= MIB:
                break
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    sandbox.youtube.stall_chunks = 0

    before = publication(store, row.id, Platform.YOUTUBE)
    size = media.stat().st_size
    assert before.upload_session and 0 < before.bytes_confirmed < size
    assert store.get(row.id).status == S.UPLOADING  # the killed run still holds it...
    # The next run's lease clock is past the killed run's lease.
    monkeypatch.setattr(get_store(), "clock", LeaseClock(timedelta(seconds=lease + 1)))

    result = upload_flow(platforms=["youtube"], recording_ids=[row.id])
    assert result["statuses"] == {"UPLOADED": 1}

    yt = sandbox.youtube
    after = publication(store, row.id, Platform.YOUTUBE)
    assert store.get(row.id).status == S.UPLOADED
    assert after.status == PlatformStatus.UPLOADED and after.attempts == 2
    assert len(yt.sessions) == 1 and len(yt.videos) == 1  # resumed, not started over
    assert yt.videos[after.remote_id]["sha256"] == sha256(media)
    assert yt.upload_wire_bytes <= size + MIB  # about one file, not two
    puts = [r.header("content-range") for r in yt.calls("PUT", UPLOAD_PATH)]
    assert f"bytes */{size}" in puts  # the new run asked the session where it stood


@postgres_only
def test_quota_exceeded_defers_the_rest_until_the_reset(store, sandbox, media, monkeypatch):
    from flows.upload import upload_flow

    monkeypatch.setenv("UPLOAD_CONCURRENCY", "1")  # one after the other: a fixed order
    get_settings.cache_clear()
    yt = sandbox.youtube
    yt.daily_uploads = 1
    rows = [add_processed(store, media) for _ in range(3)]
    ids = [r.id for r in rows]

    result = upload_flow(platforms=["youtube"], recording_ids=ids)

    assert result["statuses"] == {"UPLOADED": 1, "PROCESSED": 2}
    reset = next_pacific_midnight()
    assert store.get(ids[0]).status == S.UPLOADED
    for recording_id in ids[1:]:
        recording = store.get(recording_id)
        assert recording.status == S.PROCESSED and recording.not_before == reset
        assert recording.attempts == 0  # waiting is not a failed try
        assert "waiting for YouTube quota" in recording.status_reason
        waiting = publication(store, recording_id, Platform.YOUTUBE)
        assert waiting.status == PlatformStatus.WAITING and waiting.waiting_until == reset
        assert waiting.upload_session is None
    assert PublicationStore(store).exhausted_until(Platform.YOUTUBE) == reset
    assert len(yt.calls("POST", UPLOAD_PATH)) == 2  # the third one never called YouTube
    seen = len(yt.requests)

    assert upload_flow(platforms=["youtube"], recording_ids=ids)["touched"] == []  # none due
    assert len(yt.requests) == seen
    assert [store.get(i).status for i in ids] == [S.UPLOADED, S.PROCESSED, S.PROCESSED]


@postgres_only
def test_partial_publish_is_completed_without_touching_youtube(store, sandbox, media):
    from flows.upload import upload_flow

    row = add_processed(store, media, topic="Algebra lecture 7")
    sandbox.vk.revoke()

    state = upload_flow(platforms=["youtube", "vk"], recording_ids=[row.id], return_state=True)

    assert state.is_failed()
    assert f"{row.id} (Algebra lecture 7)" in state.message
    assert "VK: VK rejected the access token (error 5" in state.message

    recording = store.get(row.id)
    assert recording.status == S.FAILED and "error 5" in recording.status_reason
    assert publication(store, row.id, Platform.YOUTUBE).status == PlatformStatus.UPLOADED
    failed = publication(store, row.id, Platform.VK)
    assert failed.status == PlatformStatus.FAILED and "credentials import --vk" in failed.last_error
    assert sandbox.vk.token not in failed.last_error
    youtube_calls = len(sandbox.youtube.requests)

    sandbox.vk.valid_tokens.add(sandbox.vk.token)  # the user stored a good token
    result = upload_flow(platforms=["youtube", "vk"], recording_ids=[row.id])
    assert result["statuses"] == {"UPLOADED": 1}

    assert len(sandbox.youtube.requests) == youtube_calls  # YouTube was not asked again
    assert len(sandbox.youtube.videos) == 1
    on_vk = publication(store, row.id, Platform.VK)
    assert on_vk.status == PlatformStatus.UPLOADED and on_vk.attempts == 2
    assert store.get(row.id).status == S.UPLOADED


@postgres_only
def test_a_refused_thumbnail_is_in_the_run_report_and_the_list(store, sandbox, media, tmp_path):
    from prefect.artifacts import Artifact

    from flows.upload import upload_flow

    sandbox.youtube.custom_thumbnails = False  # a channel that is not verified
    row = add_processed(store, with_transcript(media, tmp_path), topic="Algebra lecture 5")

    result = upload_flow(platforms=["youtube"], recording_ids=[row.id])

    assert result["statuses"] == {"UPLOADED": 1}
    on_youtube = publication(store, row.id, Platform.YOUTUBE)
    assert on_youtube.status == PlatformStatus.UPLOADED and not on_youtube.thumbnail_done
    assert on_youtube.collection_done and on_youtube.caption_done
    assert len(sandbox.youtube.playlist_items) == 1 and len(sandbox.youtube.captions) == 1
    artifact = Artifact.get("upload-report")
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    (reported,) = [r for r in table if r["id"] == row.id]
    assert reported["notes"].startswith("youtube: no custom thumbnail: YouTube refused")
    assert "youtube.com/verify" in reported["notes"]
    assert reported["published"] == f"[youtube]({on_youtube.url})"

    listed = CliRunner().invoke(main, ["list", "--all"], catch_exceptions=False)
    assert listed.exit_code == 0 and "UPLOADED" in listed.output
    assert "no custom thumbnail" in listed.output


# ---- the task (both store backends) ---------------------------------------------------------


def test_thumbnail_too_large_is_refused_before_any_upload(store, sandbox, media):
    (sandbox.thumbnails / "algebra.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * (2 * MIB))
    row = add_processed(store, media, topic="Algebra lecture 3")

    assert_failed(run_task(store, row.id, ["youtube"]), "limit is 2 MB")

    assert sandbox.youtube.requests == []  # no insert, no quota spent
    recording = store.get(row.id)
    assert recording.status == S.FAILED and "limit is 2 MB" in recording.status_reason
    refused = publication(store, row.id, Platform.YOUTUBE)
    assert refused.status == PlatformStatus.FAILED and "limit is 2 MB" in refused.last_error


def test_file_rules_are_checked_before_any_call(store, sandbox, media):
    sandbox.configure(upload_settings__max_file_size_mb=1)
    row = add_processed(store, media)

    assert_failed(run_task(store, row.id, ["youtube", "vk"]), "max_file_size_mb allows 1 MB")

    assert sandbox.youtube.requests == [] and sandbox.vk.requests == []
    reason = store.get(row.id).status_reason
    assert "YouTube:" in reason and "VK:" in reason  # each platform's reason is listed


def test_vk_error_6_is_retried(store, sandbox, media):
    sandbox.vk.fail("video.save", 6, times=2)
    row = add_processed(store, media)

    assert run_task(store, row.id, ["vk"]) == S.UPLOADED

    assert len(sandbox.vk.calls("POST", r"video\.save")) == 3
    on_vk = publication(store, row.id, Platform.VK)
    assert on_vk.status == PlatformStatus.UPLOADED and on_vk.attempts == 1
    assert sandbox.vk.uploads_received == 1
    assert store.get(row.id).publication(Platform.YOUTUBE) is None  # not requested


def test_vk_saved_video_whose_file_arrived_is_not_sent_again(store, sandbox, media):
    row = add_processed(store, media)
    publications = PublicationStore(store)
    first = run_task(store, row.id, ["vk"])
    assert first == S.UPLOADED
    # As if the previous run died after the upload, before it marked the publication done.
    publications.update(row.id, Platform.VK, status=PlatformStatus.UPLOADING)
    second = add_processed(store, media)
    uploaded = publication(store, row.id, Platform.VK)
    publications.get_or_create(second.id, Platform.VK)
    publications.update(second.id, Platform.VK, remote_id=uploaded.remote_id)

    assert run_task(store, second.id, ["vk"]) == S.UPLOADED

    assert sandbox.vk.uploads_received == 1 and len(sandbox.vk.calls("POST", r"video\.save")) == 1


@pytest.mark.parametrize("listed", [False, True], ids=["unlisted", "listed"])
def test_vk_video_saved_without_its_file_is_replaced_not_duplicated(
    store, sandbox, media, listed: bool
):
    """Whether video.get lists a video before its file arrived is documented nowhere: either way
    the empty one is replaced, not taken for published."""
    sandbox.vk.list_before_upload = listed
    row = add_processed(store, media)
    publications = PublicationStore(store)
    # As if a run died between `video.save` and the upload: an empty video is in the group.
    client = VkClient(sandbox.vk.token, group_id=GROUP)
    empty = client.save_video("Left by a crash")
    publications.get_or_create(row.id, Platform.VK)
    publications.update(row.id, Platform.VK, remote_id=f"{empty.owner_id}_{empty.video_id}")

    assert run_task(store, row.id, ["vk"]) == S.UPLOADED

    assert (empty.owner_id, empty.video_id) not in sandbox.vk.videos
    assert len(sandbox.vk.videos) == 1 and sandbox.vk.uploads_received == 1
    final = publication(store, row.id, Platform.VK)
    assert final.remote_id != f"{empty.owner_id}_{empty.video_id}"


def test_a_media_file_that_vanished_is_downloaded_again_before_any_call(store, sandbox, tmp_path):
    gone = tmp_path / "video" / "processed_video" / "7-lecture.mp4"
    row = add_processed(store, gone, source_path=str(gone.with_name("source.mp4")))

    assert run_task(store, row.id, ["youtube", "vk"]) == S.INITIALIZED

    again = store.get(row.id)
    assert (
        again.status_reason == f"{gone} is missing on this storage: downloading it again from Zoom"
    )
    assert (again.processed_path, again.source_path, again.storage) == (None, None, None)
    assert not sandbox.youtube.requests and not sandbox.vk.requests


class Killed(Exception):  # noqa: N818 - what happened to the worker
    """Raised from `on_progress`: the uploading worker dies after its first chunk."""


def another_copy(media: Path, folder: Path) -> Path:
    """The media made again elsewhere (after a takeover): same size, other bytes, other file."""
    copy = folder / "made-again.mp4"
    data = bytearray(media.read_bytes())
    data[600_000:601_000] = bytes(1000)  # differs in the first chunk, which the dead one sent
    copy.write_bytes(bytes(data))
    return copy


def test_a_session_sending_another_copy_is_not_resumed_with_this_ones_bytes(
    store, sandbox, media, tmp_path
):
    from tasks.upload import media_stamp

    yt = sandbox.youtube
    sessions: list[str] = []
    client = YouTubeClient(yt.authorized_user_info(), api_url=sandbox.youtube_url, chunk_size=MIB)

    def die(confirmed: int) -> None:
        raise Killed

    with pytest.raises(Killed):  # the worker that held the first copy dies mid-upload
        client.upload_video(
            media, VideoMetadata("Lecture", ""), on_session=sessions.append, on_progress=die
        )
    copy = another_copy(media, tmp_path)
    row = add_processed(store, copy)
    publications = PublicationStore(store)
    publications.get_or_create(row.id, Platform.YOUTUBE)
    publications.start_attempt(row.id, Platform.YOUTUBE, media.stat().st_size)
    publications.record_session(row.id, Platform.YOUTUBE, sessions[0], media=media_stamp(media))

    assert run_task(store, row.id, ["youtube"]) == S.UPLOADED

    (video,) = yt.videos.values()
    assert video["sha256"] == sha256(copy) != sha256(media)
    assert len(yt.sessions) == 2 and yt.session_for(sessions[0]).video_id is None
    found = publication(store, row.id, Platform.YOUTUBE)
    assert found.remote_id == video["id"] and found.session_media is not None


def test_a_session_that_finished_another_copy_is_taken_not_uploaded_again(
    store, sandbox, media, tmp_path
):
    from tasks.upload import media_stamp

    yt = sandbox.youtube
    sessions: list[str] = []
    client = YouTubeClient(yt.authorized_user_info(), api_url=sandbox.youtube_url, chunk_size=MIB)
    # The dead worker sent every byte of its copy but never heard the answer.
    video = client.upload_video(media, VideoMetadata("Lecture", ""), on_session=sessions.append)
    row = add_processed(store, another_copy(media, tmp_path))
    publications = PublicationStore(store)
    publications.get_or_create(row.id, Platform.YOUTUBE)
    publications.record_session(row.id, Platform.YOUTUBE, sessions[0], media=media_stamp(media))
    wire = yt.upload_wire_bytes

    assert run_task(store, row.id, ["youtube"]) == S.UPLOADED

    assert publication(store, row.id, Platform.YOUTUBE).remote_id == video["id"]
    assert len(yt.videos) == 1 and len(yt.sessions) == 1 and yt.upload_wire_bytes == wire


def test_session_gone_with_the_video_already_created_is_not_uploaded_again(store, sandbox, media):
    yt = sandbox.youtube
    row = add_processed(store, media)
    # A previous run sent every byte, but died before it heard the answer: the session is
    # stored, the video exists, and the session has expired since.
    sessions: list[str] = []
    client = YouTubeClient(yt.authorized_user_info(), api_url=sandbox.youtube_url, chunk_size=MIB)
    marker = youtube_marker(store.get(row.id).zoom_uuid)
    video = client.upload_video(
        media, VideoMetadata("Lecture", f"Notes\n\n{marker}"), on_session=sessions.append
    )
    publications = PublicationStore(store)
    publications.get_or_create(row.id, Platform.YOUTUBE)
    publications.update(row.id, Platform.YOUTUBE, upload_session=sessions[0])
    yt.expire_session(sessions[0])
    wire = yt.upload_wire_bytes

    assert run_task(store, row.id, ["youtube"]) == S.UPLOADED

    found = publication(store, row.id, Platform.YOUTUBE)
    assert found.remote_id == video["id"] and len(yt.videos) == 1
    assert yt.upload_wire_bytes == wire and len(yt.sessions) == 1


def test_revoked_youtube_token_fails_with_the_command_to_fix_it(store, sandbox, media, caplog):
    sandbox.youtube.revoke()
    row = add_processed(store, media)

    assert_failed(run_task(store, row.id, ["youtube"]), "zoom-publisher auth youtube")

    failed = publication(store, row.id, Platform.YOUTUBE)
    assert failed.status == PlatformStatus.FAILED
    for secret in sandbox.secrets():
        assert secret not in failed.last_error and secret not in caplog.text
        assert secret not in (store.get(row.id).status_reason or "")
    assert failed.upload_session is None  # refused at the session's opening


def test_no_enabled_platform_is_a_clear_error(store, sandbox, media):
    sandbox.configure(platforms__vk__enabled=False)
    row = add_processed(store, media)
    assert_failed(run_task(store, row.id, ["vk"]), "no enabled platform")
    assert store.get(row.id).publications == []


def test_quota_marked_used_up_makes_youtube_wait_without_a_call(store, sandbox, media):
    until = datetime.now(UTC) + timedelta(hours=2)
    PublicationStore(store).mark_exhausted(Platform.YOUTUBE, "default", until)
    row = add_processed(store, media)

    assert run_task(store, row.id, ["youtube", "vk"]) == S.PROCESSED

    assert sandbox.youtube.requests == []
    recording = store.get(row.id)
    assert recording.not_before == until and recording.claimed_by is None
    assert publication(store, row.id, Platform.YOUTUBE).status == PlatformStatus.WAITING
    assert publication(store, row.id, Platform.VK).status == PlatformStatus.UPLOADED
    assert store.claim("upload", "other", lease_seconds=60, ids=[row.id]) == []  # deferred


# ---- the seed's value types (tests/seed_files/app_config.json) ------------------------------


def test_the_seed_vk_settings_publish_a_mov_as_written(store, sandbox, media, tmp_path):
    """group_id as a JSON number, privacy as VK's community codes, avi/mov: published as such."""
    sandbox.configure(
        platforms__vk__group_id=GROUP,
        platforms__vk__default_privacy="0",
        platforms__vk__privacy_comment="1",
        upload_settings__supported_formats=["mp4", "avi", "mov"],
    )
    mov = tmp_path / "lecture.mov"
    mov.write_bytes(media.read_bytes())
    row = add_processed(store, mov)

    assert run_task(store, row.id, ["vk"]) == S.UPLOADED

    owner, video_id = (int(x) for x in publication(store, row.id, Platform.VK).remote_id.split("_"))
    stored = sandbox.vk.video(owner, video_id)
    assert owner == -GROUP and stored["sha256"] == sha256(mov)
    assert (stored["privacy_view"], stored["privacy_comment"]) == ("all", "members")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"platforms__vk__group_id": "your_group_id"},
            "platforms.vk.group_id is 'your_group_id', not a VK ID",
        ),
        (
            {
                "video_title_mapping__mapping_rules": [
                    {"pattern": "Algebra", "vk_album_id": "ALBUM_ID"}
                ]
            },
            "vk_album_id of the rule 'Algebra' is 'ALBUM_ID', not a VK ID",
        ),
    ],
)
def test_a_placeholder_vk_id_fails_naming_the_field_before_any_vk_call(
    store, sandbox, media, changes: dict[str, Any], message: str
):
    sandbox.configure(**changes)
    row = add_processed(store, media, topic="Algebra lecture 1")

    assert_failed(run_task(store, row.id, ["vk"]), message)

    assert sandbox.vk.requests == []
    assert message in publication(store, row.id, Platform.VK).last_error


def test_the_credentials_group_id_is_named_when_it_is_the_one_used(store, sandbox, media):
    sandbox.configure(platforms__vk__group_id=None)
    VkCredentials(access_token=sandbox.vk.token, group_id="your_group_id").save(
        VK_BLOCK, overwrite=True
    )
    row = add_processed(store, media)

    assert_failed(run_task(store, row.id, ["vk"]), "group_id of the VK credentials (vk_creds.json)")
    assert sandbox.vk.requests == []


def test_a_channel_that_may_not_set_thumbnails_gets_playlist_and_captions_and_one_warning(
    store, sandbox, media, tmp_path, caplog
):
    yt = sandbox.youtube
    yt.custom_thumbnails = False
    # The captions fail until the client's retries run out, so the publication is run twice.
    yt.inject(Fault(path=r"/upload/youtube/v3/captions", method="POST", status=503, times=4))
    caplog.set_level(logging.WARNING)
    row = add_processed(store, with_transcript(media, tmp_path), topic="Algebra lecture 4")

    assert_failed(run_task(store, row.id, ["youtube"]), "captions.insert failed with 503")
    first = publication(store, row.id, Platform.YOUTUBE)
    assert first.remote_id and first.collection_done and not first.caption_done
    assert "doesn't have permissions to upload and set custom" in first.thumbnail_refused

    assert run_task(store, row.id, ["youtube"]) == S.UPLOADED

    done = publication(store, row.id, Platform.YOUTUBE)
    assert done.status == PlatformStatus.UPLOADED and done.attempts == 2
    assert done.caption_done and done.collection_done and not done.thumbnail_done
    assert done.thumbnail_refused == first.thumbnail_refused  # kept past a new attempt
    assert len(yt.calls("POST", r"/thumbnails/set$")) == 1  # not tried again for this video
    assert yt.thumbnails == {} and len(yt.videos) == 1
    assert len(yt.playlist_items) == 1 and len(yt.captions) == 1
    warned = [r for r in caplog.records if "refused the custom thumbnail" in r.getMessage()]
    assert [r.levelno for r in warned] == [logging.WARNING]  # said once, not on every run


# ---- VK's own rules (the sandbox enforces them as VK does) ----------------------------------


@pytest.mark.parametrize(
    ("view", "comment", "sent"),
    [("0", "1", ("all", "members")), ("3", "0", ("by_link", "all"))],
)
def test_the_seed_vk_privacy_codes_reach_vk_as_community_values(
    store, sandbox, media, view: str, comment: str, sent: tuple[str, str]
):
    """dev.vk.com/reference/objects/privacy: a community's video takes community privacy."""
    sandbox.configure(platforms__vk__default_privacy=view, platforms__vk__privacy_comment=comment)
    row = add_processed(store, media)

    assert run_task(store, row.id, ["vk"]) == S.UPLOADED

    save = sandbox.vk.calls("POST", r"video\.save")[0]
    form = parse_qs(save.body.decode())
    assert (form["privacy_view"], form["privacy_comment"]) == ([sent[0]], [sent[1]])
    assert form["group_id"] == [str(GROUP)]


def test_a_community_token_fails_saying_which_token_to_create(store, sandbox, media):
    token = sandbox.vk.community_token(GROUP)
    VkCredentials(access_token=token, group_id=str(GROUP)).save(VK_BLOCK, overwrite=True)
    row = add_processed(store, media)

    message = assert_failed(run_task(store, row.id, ["vk"]), "error 27")

    assert "user access token of an administrator of the community" in message
    assert token not in message
    assert sandbox.vk.videos == {} and sandbox.vk.uploads_received == 0
    failed = publication(store, row.id, Platform.VK)
    assert failed.status == PlatformStatus.FAILED and "community token" in failed.last_error
    assert store.get(row.id).status == S.FAILED


def test_vk_daily_limit_makes_the_publication_wait_not_fail(store, sandbox, media):
    """Error 29 ("Rate limit reached": video.save takes 5,000 calls a day per app)."""
    sandbox.vk.daily_limits["video.save"] = 0
    first, second = add_processed(store, media), add_processed(store, media)

    assert run_task(store, first.id, ["vk"]) == S.PROCESSED

    reset = next_moscow_midnight()
    recording = store.get(first.id)
    assert recording.status == S.PROCESSED and recording.not_before == reset
    assert recording.attempts == 0 and recording.claimed_by is None
    assert "waiting for VK quota" in recording.status_reason
    waiting = publication(store, first.id, Platform.VK)
    assert waiting.status == PlatformStatus.WAITING and waiting.waiting_until == reset
    assert "error 29" in waiting.last_error
    assert PublicationStore(store).exhausted_until(Platform.VK) == reset
    calls = len(sandbox.vk.requests)

    assert run_task(store, second.id, ["vk"]) == S.PROCESSED  # waits without a call
    assert len(sandbox.vk.requests) == calls
    assert publication(store, second.id, Platform.VK).status == PlatformStatus.WAITING
    assert store.claim("upload", "other", lease_seconds=60, ids=[first.id, second.id]) == []


def test_a_vk_title_of_120_characters_is_not_cut_to_youtubes_100(store, sandbox, media):
    topic = " ".join(f"Lecture{n:02d}" for n in range(12)) + "!"
    sandbox.configure(
        video_title_mapping__default_rules={"youtube_title_template": "{original_title}"}
    )
    row = add_processed(store, media, topic=topic)

    assert run_task(store, row.id, ["vk"]) == S.UPLOADED

    owner, video_id = (int(x) for x in publication(store, row.id, Platform.VK).remote_id.split("_"))
    assert len(topic) == 120 and sandbox.vk.video(owner, video_id)["title"] == topic
    assert publication(store, row.id, Platform.VK).title == topic


def _vk_title(sandbox, store, recording_id: int) -> str:
    owner, video_id = publication(store, recording_id, Platform.VK).remote_id.split("_")
    return sandbox.vk.video(int(owner), int(video_id))["title"]


def test_a_retried_upload_takes_the_title_mapping_as_it_stands_now(store, sandbox, media):
    yt = sandbox.youtube
    sandbox.configure(
        video_title_mapping__default_rules={"youtube_title_template": "Old {original_title}"}
    )
    # The upload session cannot be opened until the client's retries run out.
    yt.inject(Fault(path=r"/upload/youtube/v3/videos", method="POST", status=503, times=50))
    row = add_processed(store, media, topic="Optics")
    assert_failed(run_task(store, row.id, ["youtube"]), "503")

    yt.faults.clear()
    sandbox.configure(
        video_title_mapping__default_rules={"youtube_title_template": "New {original_title}"}
    )
    assert run_task(store, row.id, ["youtube"]) == S.UPLOADED

    [video] = yt.videos.values()
    assert video["snippet"]["title"] == "New Optics"
    assert publication(store, row.id, Platform.YOUTUBE).title == "New Optics"


def test_a_title_chosen_by_hand_is_kept_at_every_attempt(store, sandbox, media):
    sandbox.vk.fail("video.save", 6, times=50)
    row = add_processed(store, media, topic="Optics")
    PublicationStore(store).get_or_create(row.id, Platform.VK)
    PublicationStore(store).update(row.id, Platform.VK, chosen_title="Optics, the good one")
    assert run_task(store, row.id, ["vk"]) != S.UPLOADED

    sandbox.vk.faults.clear()
    sandbox.configure(
        video_title_mapping__default_rules={"vk_title_template": "New {original_title}"}
    )
    assert run_task(store, row.id, ["vk"]) == S.UPLOADED

    assert _vk_title(sandbox, store, row.id) == "Optics, the good one"


@postgres_only
def test_upload_i_keeps_a_typed_title_and_leaves_an_accepted_one_to_the_mapping(
    store, sandbox, media
):
    typed, accepted = add_processed(store, media, topic="Optics"), add_processed(store, media)
    answers = "all\nOptics, the good one\n\n"  # pick both; type one title, Enter on the other

    result = CliRunner().invoke(main, ["upload", "--vk", "-i"], input=answers)

    assert result.exit_code == 0, result.output
    assert publication(store, typed.id, Platform.VK).chosen_title == "Optics, the good one"
    assert publication(store, accepted.id, Platform.VK).chosen_title is None
    assert _vk_title(sandbox, store, typed.id) == "Optics, the good one"
    assert (
        _vk_title(sandbox, store, accepted.id) == publication(store, accepted.id, Platform.VK).title
    )
