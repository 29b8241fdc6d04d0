"""The YouTube client against the sandbox emulator, with google-api-python-client unchanged."""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config.settings import get_settings
from integrations.http.retry import RetryPolicy, WaitTooLong
from integrations.sandbox.server import Fault, LoopbackServer
from integrations.thumbnails import ThumbnailError
from integrations.youtube import (
    PACIFIC,
    UPLOAD_BUCKET,
    AuthRevoked,
    CustomThumbnailsForbidden,
    QuotaExceeded,
    QuotaUse,
    UploadInterrupted,
    UploadSessionGone,
    VideoCheck,
    VideoMetadata,
    YouTubeClient,
    YouTubeRequestError,
    consent_flow,
    next_pacific_midnight,
    pacific_day,
    run_consent,
)
from tests.youtube_contract import RecordingYouTubeEmulator, contract_problems

CHUNK = 256 * 1024
UPLOAD_PATH = r"/upload/youtube/v3/videos"


class Crash(Exception):  # noqa: N818
    """Stands in for a kill -9 between two chunks."""


@pytest.fixture
def youtube():
    """The sandbox; afterwards, what went over the wire is held to the discovery document."""
    emulator = RecordingYouTubeEmulator()
    with LoopbackServer(emulator) as server:
        yield emulator, server
    assert contract_problems(emulator) == []


@pytest.fixture
def make_client(youtube):
    emulator, server = youtube
    sleeps: list[float] = []
    quota: list[QuotaUse] = []

    def make(attempts: int = 4, **kwargs) -> YouTubeClient:
        options = {
            "api_url": server.url,
            "chunk_size": CHUNK,
            "on_quota": quota.append,
            "timeout": 5,
            "retry": RetryPolicy(attempts=attempts, backoff_base=0.01, sleep=sleeps.append),
        }
        client = YouTubeClient(emulator.authorized_user_info(), **(options | kwargs))
        client.sleeps = sleeps  # type: ignore[attr-defined]
        client.quota = quota  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    path = tmp_path / "lecture.mp4"
    path.write_bytes(os.urandom(4 * CHUNK + 1000))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_mp4(path: Path, seconds: int, size: int) -> Path:
    """Noise behind a `moov` box whose `mvhd` says `seconds` (all the sandbox reads of a file)."""
    mvhd = bytes(12) + struct.pack(">II", 1000, seconds * 1000) + bytes(80)  # version 0
    box = struct.pack(">I4s", 8 + len(mvhd), b"mvhd") + mvhd
    head = struct.pack(">I4s", 8 + len(box), b"moov") + box
    path.write_bytes(head + os.urandom(size - len(head)))
    return path


def chunk_puts(emulator: RecordingYouTubeEmulator) -> list[str]:
    return [r.header("content-range") or "" for r in emulator.calls("PUT", UPLOAD_PATH)]


def test_upload_stores_session_before_any_byte_and_reports_progress(
    youtube, make_client, video_file
):
    emulator, _ = youtube
    client = make_client()
    seen: dict[str, object] = {}
    progress: list[int] = []

    def on_session(uri: str) -> None:
        seen["uri"] = uri
        seen["puts_before"] = len(emulator.calls("PUT", UPLOAD_PATH))

    video = client.upload_video(
        video_file,
        VideoMetadata("Lecture 1", "About things", tags=["math"]),
        on_session=on_session,
        on_progress=progress.append,
    )

    size = video_file.stat().st_size
    assert seen["puts_before"] == 0
    assert progress == [CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK, size]
    stored = emulator.videos[video["id"]]
    assert stored["sha256"] == sha256(video_file)
    assert stored["status"]["privacyStatus"] == "unlisted"
    assert stored["status"]["selfDeclaredMadeForKids"] is False
    assert emulator.session_for(seen["uri"]).wire_bytes == size
    assert client.quota == [QuotaUse("videos.insert", 1, UPLOAD_BUCKET)]


def test_chunk_answered_503_is_resumed_from_the_server_offset(youtube, make_client, video_file):
    emulator, _ = youtube
    emulator.inject(Fault(path=UPLOAD_PATH, method="PUT", status=503, skip=1))
    client = make_client()

    video = client.upload_video(video_file, VideoMetadata("Lecture"))

    size = video_file.stat().st_size
    assert emulator.videos[video["id"]]["sha256"] == sha256(video_file)
    puts = chunk_puts(emulator)
    assert puts[:4] == [
        f"bytes 0-{CHUNK - 1}/{size}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}",  # answered 503
        f"bytes */{size}",  # where do we stand?
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}",
    ]
    assert len(client.sleeps) == 1  # one backoff


def test_connection_cut_mid_chunk_continues_from_what_the_server_kept(
    youtube, make_client, video_file
):
    emulator, _ = youtube
    # Cut twice: httplib2 re-sends once by itself, the client's resync handles the second.
    emulator.inject(Fault(path=UPLOAD_PATH, method="PUT", cut_after_bytes=100_000, skip=1, times=2))
    client = make_client()
    sessions: list[str] = []

    video = client.upload_video(video_file, VideoMetadata("Lecture"), on_session=sessions.append)

    size = video_file.stat().st_size
    assert emulator.videos[video["id"]]["sha256"] == sha256(video_file)
    assert f"bytes */{size}" in chunk_puts(emulator)
    # The server kept the cut bytes, so the retry only re-sends the rest of the chunk's span.
    assert emulator.session_for(sessions[0]).wire_bytes <= size + 2 * CHUNK


def test_new_process_resumes_stored_session_and_sends_about_one_file(
    youtube, make_client, video_file
):
    emulator, _ = youtube
    stored: dict[str, object] = {}

    def remember(uri: str) -> None:
        stored["uri"] = uri

    def crash_after_two(confirmed: int) -> None:
        stored["confirmed"] = confirmed
        if confirmed >= 2 * CHUNK:
            raise Crash

    with pytest.raises(Crash):
        make_client().upload_video(
            video_file, VideoMetadata("Lecture"), on_session=remember, on_progress=crash_after_two
        )
    assert stored["confirmed"] == 2 * CHUNK

    progress: list[int] = []
    video = make_client().upload_video(
        video_file, VideoMetadata("Lecture"), session_uri=stored["uri"], on_progress=progress.append
    )

    size = video_file.stat().st_size
    session = emulator.session_for(stored["uri"])
    assert emulator.videos[video["id"]]["sha256"] == sha256(video_file)
    assert session.wire_bytes == size  # one file, not two
    assert len(emulator.sessions) == 1 and len(emulator.videos) == 1
    assert chunk_puts(emulator)[2] == f"bytes */{size}"  # the new process asked first
    assert progress[0] == 3 * CHUNK


def test_stored_session_of_a_finished_upload_returns_the_video(youtube, make_client, video_file):
    emulator, _ = youtube
    sessions: list[str] = []
    first = make_client().upload_video(video_file, VideoMetadata("L"), on_session=sessions.append)

    again = make_client().upload_video(video_file, VideoMetadata("L"), session_uri=sessions[0])

    assert again["id"] == first["id"]
    assert len(emulator.videos) == 1


def test_session_gone_raises_and_the_existing_video_is_findable(youtube, make_client, video_file):
    emulator, _ = youtube
    sessions: list[str] = []
    marker = "[zp:publication-42]"
    video = make_client().upload_video(
        video_file,
        VideoMetadata("Lecture", f"Notes\n{marker}"),
        on_session=sessions.append,
    )
    emulator.expire_session(sessions[0])
    client = make_client()

    with pytest.raises(UploadSessionGone, match="already created"):
        client.upload_video(video_file, VideoMetadata("Lecture"), session_uri=sessions[0])

    found = client.find_video(marker=marker)
    assert found is not None and found["id"] == video["id"]
    assert client.find_video(marker="[zp:other]") is None
    assert client.find_video(video["id"])["snippet"]["title"] == "Lecture"
    assert client.find_video("nonexistent") is None


def test_unknown_session_is_gone_too(youtube, make_client, video_file):
    _, server = youtube
    uri = f"{server.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id=nope"
    with pytest.raises(UploadSessionGone):
        make_client().upload_video(video_file, VideoMetadata("L"), session_uri=uri)


def test_repeated_failures_keep_the_session_for_later(youtube, make_client, video_file):
    emulator, _ = youtube
    emulator.inject(Fault(path=UPLOAD_PATH, method="PUT", status=503, skip=1, times=50))
    sessions: list[str] = []
    client = make_client(attempts=3)

    with pytest.raises(UploadInterrupted) as info:
        client.upload_video(video_file, VideoMetadata("L"), on_session=sessions.append)

    assert info.value.retryable
    emulator.faults.clear()
    video = make_client().upload_video(video_file, VideoMetadata("L"), session_uri=sessions[0])
    assert emulator.videos[video["id"]]["sha256"] == sha256(video_file)


def test_quota_exceeded_gives_pacific_midnight(youtube, make_client, tmp_path):
    emulator, _ = youtube
    emulator.daily_quota = 60
    thumb = tmp_path / "t.png"
    thumb.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    emulator.videos["vid"] = {"id": "vid", "snippet": {}, "status": {}}
    client = make_client()
    client.set_thumbnail("vid", thumb)  # 50 units

    with pytest.raises(QuotaExceeded) as info:
        client.set_thumbnail("vid", thumb)

    error = info.value
    assert error.reason == "quotaExceeded" and not error.retryable
    assert error.resume_at == next_pacific_midnight()
    local = error.resume_at.astimezone(PACIFIC)
    assert (local.hour, local.minute) == (0, 0)
    assert timedelta(0) < error.resume_at - datetime.now(PACIFIC) <= timedelta(hours=25)
    assert "midnight Pacific" in str(error)


def test_upload_bucket_and_upload_limit(youtube, make_client, video_file):
    emulator, _ = youtube
    emulator.daily_uploads = 1
    client = make_client()
    client.upload_video(video_file, VideoMetadata("First"))
    sessions: list[str] = []

    with pytest.raises(QuotaExceeded):
        client.upload_video(video_file, VideoMetadata("Second"), on_session=sessions.append)
    assert sessions == []  # no session, no bytes

    emulator.reset_quota()
    emulator.channel_upload_limit = 1
    with pytest.raises(QuotaExceeded) as info:
        client.upload_video(video_file, VideoMetadata("Third"))
    assert info.value.reason == "uploadLimitExceeded"


def test_bad_metadata_is_refused_without_retry(youtube, make_client, video_file):
    emulator, _ = youtube
    client = make_client()
    with pytest.raises(YouTubeRequestError) as info:
        client.upload_video(video_file, VideoMetadata("a <b> title"))
    assert info.value.reason == "invalidTitle" and not info.value.retryable
    assert len(emulator.calls("POST", UPLOAD_PATH)) == 1
    assert client.sleeps == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024), "limit is 2 MB"),
        (b"GIF89a" + b"\0" * 100, "not a JPEG or PNG"),
        (None, "does not exist"),
    ],
)
def test_bad_thumbnail_is_refused_before_any_call(youtube, make_client, tmp_path, content, message):
    emulator, _ = youtube
    path = tmp_path / "thumb.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ThumbnailError, match=message):
        make_client().set_thumbnail("vid", path)
    assert emulator.requests == []


def test_thumbnail_and_caption_are_uploaded(youtube, make_client, video_file, tmp_path):
    emulator, _ = youtube
    client = make_client()
    video = client.upload_video(video_file, VideoMetadata("L"))
    thumb = tmp_path / "t.jpg"
    thumb.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
    captions = tmp_path / "c.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n")

    client.set_thumbnail(video["id"], thumb)
    caption = client.insert_caption(video["id"], captions, language="ru", name="Russian")

    assert emulator.thumbnails[video["id"]] == thumb.stat().st_size
    assert caption["snippet"]["language"] == "ru"
    assert [q.method for q in client.quota] == [
        "videos.insert",
        "thumbnails.set",
        "captions.insert",
    ]
    assert [q.units for q in client.quota] == [1, 50, 400]


def test_playlist_is_created_once_then_reused_across_pages(youtube, make_client, video_file):
    emulator, _ = youtube
    client = make_client()
    for n in range(60):  # more than one page of 50
        client.service.playlists().insert(
            part="snippet", body={"snippet": {"title": f"Other {n}"}}
        ).execute()
    video = client.upload_video(video_file, VideoMetadata("L"))

    first = client.find_or_create_playlist("Algebra 2026")
    second = make_client().find_or_create_playlist("Algebra 2026")
    assert first == second
    assert make_client().find_or_create_playlist("Other 59") != first
    assert len(emulator.calls("POST", r"/youtube/v3/playlists$")) == 61

    assert client.add_to_playlist(first, video["id"]) is not None
    assert client.add_to_playlist(first, video["id"]) is None  # already there
    assert len(emulator.playlist_items) == 1


def test_5xx_on_an_api_call_is_retried(youtube, make_client):
    emulator, _ = youtube
    emulator.inject(Fault(path=r"/youtube/v3/playlists", method="GET", status=500, times=2))
    client = make_client()
    assert client.find_playlist("nothing") is None
    assert len(client.sleeps) == 2


def test_retry_after_is_honoured_on_api_calls_and_chunks(youtube, make_client, video_file):
    emulator, _ = youtube
    emulator.inject(
        Fault(path=r"/youtube/v3/playlists", method="GET", status=503, headers={"Retry-After": "3"})
    )
    emulator.inject(
        Fault(path=UPLOAD_PATH, method="PUT", status=503, skip=1, headers={"Retry-After": "2"})
    )
    client = make_client()

    assert client.find_playlist("nothing") is None
    video = client.upload_video(video_file, VideoMetadata("L"))

    assert emulator.videos[video["id"]]["sha256"] == sha256(video_file)
    assert client.sleeps == [3.0, 2.0]  # as asked, not the 0.01 s backoff


def test_retry_after_beyond_the_patience_is_not_waited(youtube, make_client):
    emulator, _ = youtube
    emulator.inject(
        Fault(path=r"/youtube/v3/playlists", status=429, headers={"Retry-After": "7200"}, times=9)
    )
    client = make_client()

    with pytest.raises(WaitTooLong) as caught:
        client.find_playlist("nothing")

    assert not caught.value.retryable and "(in 2 h 00 min)" in str(caught.value)
    assert client.sleeps == [] and len(emulator.calls("GET", r"/youtube/v3/playlists")) == 1


def test_expired_access_token_is_refreshed(youtube, make_client):
    emulator, _ = youtube
    client = make_client()
    client.find_playlist("x")
    emulator.expire_access_tokens()
    client.find_playlist("x")
    assert len(emulator.calls("POST", r"^/token$")) == 2


def test_revoked_refresh_token_says_what_to_run(youtube, make_client):
    emulator, _ = youtube
    emulator.revoke()
    with pytest.raises(AuthRevoked) as info:
        make_client().find_playlist("x")
    assert "zoom-publisher auth youtube" in str(info.value)
    assert emulator.refresh_token not in str(info.value)


def test_tokens_never_reach_logs_errors_or_reprs(youtube, make_client, video_file, caplog):
    emulator, _ = youtube
    caplog.set_level(logging.DEBUG)
    emulator.inject(Fault(path=UPLOAD_PATH, method="PUT", status=503, skip=1))
    client = make_client()
    client.upload_video(video_file, VideoMetadata("L"))
    emulator.expire_access_tokens()
    client.find_playlist("x")
    issued = list(emulator.access_tokens)
    emulator.revoke()
    with pytest.raises(AuthRevoked) as info:
        make_client().find_playlist("x")

    secrets = [emulator.refresh_token, emulator.client_secret, *issued]
    assert len(issued) == 2
    texts = [caplog.text, str(info.value), repr(info.value), repr(client)]
    assert caplog.text  # something was logged
    for secret in secrets:
        assert secret and all(secret not in text for text in texts)


def test_settings_point_the_client_at_the_sandbox(youtube, monkeypatch):
    emulator, server = youtube
    monkeypatch.setenv("YOUTUBE_API_URL", server.url)
    get_settings.cache_clear()
    try:
        client = YouTubeClient(emulator.authorized_user_info())
        assert client.find_playlist("x") is None
        assert emulator.calls("GET", r"/youtube/v3/playlists")
    finally:
        get_settings.cache_clear()


def test_chunk_size_must_be_a_multiple_of_256_kib(youtube):
    emulator, _ = youtube
    with pytest.raises(ValueError, match="multiple"):
        YouTubeClient(emulator.authorized_user_info(), chunk_size=1000)


def test_pacific_midnight_and_day():
    utc = datetime.fromisoformat("2026-07-01T06:30:00+00:00")  # 23:30 PDT on June 30
    assert pacific_day(utc).isoformat() == "2026-06-30"
    assert next_pacific_midnight(utc).isoformat() == "2026-07-01T00:00:00-07:00"
    winter = datetime.fromisoformat("2026-12-01T09:00:00+00:00")  # 01:00 PST
    assert next_pacific_midnight(winter).isoformat() == "2026-12-02T00:00:00-08:00"


def test_consent_flow_and_console_fallback(youtube, monkeypatch):
    emulator, _ = youtube
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox is plain HTTP
    assert consent_flow(emulator.client_config()).client_config["client_id"] == emulator.client_id
    printed: list[str] = []
    info = run_consent(
        emulator.client_config(),
        console=True,
        input_fn=lambda _: f"http://localhost:1/?state=x&code={emulator.auth_code}",
        print_fn=printed.append,
    )
    assert info["refresh_token"] == emulator.refresh_token
    assert info["token_uri"] == f"{emulator.base_url}/token"
    assert "/o/oauth2/auth" in printed[0]
    assert emulator.refresh_token not in printed[0]


def test_chunk_whose_answer_times_out_is_not_sent_again(youtube, make_client, video_file):
    emulator, _ = youtube
    emulator.stall_chunks, emulator.stall_seconds = 1, 0.6
    sessions: list[str] = []
    client = make_client(timeout=0.3)

    video = client.upload_video(video_file, VideoMetadata("L"), on_session=sessions.append)

    size = video_file.stat().st_size
    assert emulator.videos[video["id"]]["sha256"] == sha256(video_file)
    assert f"bytes */{size}" in chunk_puts(emulator)
    assert emulator.session_for(sessions[0]).wire_bytes == size  # the server had kept the chunk


def test_5xx_when_opening_the_session_is_retried(youtube, make_client, video_file):
    emulator, _ = youtube
    emulator.inject(Fault(path=UPLOAD_PATH, method="POST", status=503))
    client = make_client()
    video = client.upload_video(video_file, VideoMetadata("L"))
    assert video["id"] in emulator.videos
    assert len(emulator.sessions) == 1 and len(client.sleeps) == 1


def test_thumbnail_refused_for_the_channel_raises_its_own_error(youtube, make_client, tmp_path):
    emulator, _ = youtube
    emulator.custom_thumbnails = False
    emulator.videos["vid"] = {"id": "vid", "snippet": {}, "status": {}}
    thumb = tmp_path / "t.png"
    thumb.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    client = make_client()

    with pytest.raises(CustomThumbnailsForbidden) as info:
        client.set_thumbnail("vid", thumb)

    assert not info.value.retryable and client.sleeps == []  # asked once, not retried
    assert "permissions to upload and set custom video thumbnails" in str(info.value)
    assert "youtube.com/verify" in str(info.value)
    assert emulator.thumbnails == {}
    assert [q.method for q in client.quota] == ["thumbnails.set"]  # a refused call still counts


def test_video_check_reads_upload_status_reason_privacy_and_duration(
    youtube, make_client, tmp_path
):
    emulator, _ = youtube
    client = make_client()
    video = client.upload_video(fake_mp4(tmp_path / "l.mp4", 61, 2 * CHUNK), VideoMetadata("L"))
    assert video["status"]["uploadStatus"] == "uploaded"  # the insert's answer: not processed

    assert client.video_check(video["id"]) == VideoCheck(video["id"], "processed", "unlisted", 61.0)
    emulator.set_upload_status(video["id"], "uploaded")  # still processing
    assert client.video_check(video["id"]) == VideoCheck(video["id"], "uploaded", "unlisted", None)
    assert client.video_duration(video["id"]) is None
    emulator.set_upload_status(video["id"], "rejected", "duplicate")
    rejected = client.video_check(video["id"])
    assert (rejected.upload_status, rejected.rejection_reason) == ("rejected", "duplicate")
    assert rejected.duration == 61.0 and rejected.failure_reason is None
    emulator.set_upload_status(video["id"], "failed", "codec")
    failed = client.video_check(video["id"])
    assert (failed.upload_status, failed.failure_reason, failed.rejection_reason) == (
        "failed",
        "codec",
        None,
    )
    assert client.video_check("nonexistent") is None

    lists = emulator.calls("GET", r"^/youtube/v3/videos$")
    assert {r.query["part"] for r in lists} == {"contentDetails,status"}
    assert all("maxResults" not in r.query for r in lists)  # not supported with `id`
    assert emulator.unsupported == []
    with pytest.raises(ValueError, match="takes one of"):
        emulator.set_upload_status(video["id"], "rejected", "codec")


def test_an_unaudited_project_gets_private_videos_whatever_it_asks(
    youtube, make_client, video_file
):
    emulator, _ = youtube
    emulator.locked_private = True
    client = make_client()

    video = client.upload_video(video_file, VideoMetadata("L", privacy_status="unlisted"))

    assert video["status"]["privacyStatus"] == "unlisted"  # the answer shows what was asked...
    assert client.video_check(video["id"]).privacy_status == "private"  # ...YouTube keeps this
    assert client.find_video(video["id"])["status"]["privacyStatus"] == "private"


def test_videos_list_by_id_sends_no_max_results(youtube, make_client, video_file):
    emulator, _ = youtube
    client = make_client()
    video = client.upload_video(video_file, VideoMetadata("L", "[zp:m]"))

    client.find_video(video["id"])
    client.find_video(marker="[zp:m]")
    client.video_duration(video["id"])

    by_id = emulator.calls("GET", r"^/youtube/v3/videos$")
    assert len(by_id) == 3 and all(r.query["id"] == video["id"] for r in by_id)
    assert all("maxResults" not in r.query for r in by_id)
    assert emulator.unsupported == []
