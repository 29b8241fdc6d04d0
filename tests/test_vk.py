"""The VK client against the sandbox emulator, with vk_api and requests unchanged."""

from __future__ import annotations

import hashlib
import logging
import os
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from config.settings import get_settings
from integrations.http.retry import RetryPolicy
from integrations.sandbox.server import Fault, LoopbackServer
from integrations.sandbox.vk import VkEmulator
from integrations.thumbnails import ThumbnailError
from integrations.vk import (
    MOSCOW,
    VideoCheck,
    VideoState,
    VkApiFailure,
    VkAuthError,
    VkCaptchaRequired,
    VkClient,
    VkDailyLimitReached,
    VkGroupTokenError,
    VkRateLimited,
    _RewritingSession,
    next_moscow_midnight,
)

GROUP = 123


@pytest.fixture
def vk():
    emulator = VkEmulator()
    with LoopbackServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def make_client(vk):
    emulator, server = vk
    sleeps: list[float] = []

    def make(attempts: int = 4, **kwargs) -> VkClient:
        options = {
            "group_id": GROUP,
            "api_url": server.url + "/method/",
            "rps_delay": 0,
            "retry": RetryPolicy(attempts=attempts, backoff_base=0.01, sleep=sleeps.append),
            "timeout": 5,
        }
        client = VkClient(emulator.token, **(options | kwargs))
        client.sleeps = sleeps  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    path = tmp_path / "lecture.mp4"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_then_streamed_upload(vk, make_client, video_file):
    emulator, _ = vk
    client = make_client()

    saved = client.save_video(
        "Lecture 1", description="About", privacy_view="all", no_comments=True, repeat=True
    )
    assert saved.owner_id == -GROUP
    assert client.video_state(saved.owner_id, saved.video_id) is VideoState.MISSING
    result = client.upload(saved, video_file)

    stored = emulator.video(saved.owner_id, saved.video_id)
    assert stored["sha256"] == digest(video_file)
    assert stored["no_comments"] and stored["repeat"] and stored["privacy_view"] == "all"
    assert result.size == video_file.stat().st_size and result.video_id == saved.video_id
    upload = emulator.calls("POST", r"^/upload/video$")[0]
    assert upload.header("transfer-encoding") is None and int(upload.header("content-length")) > 0
    assert client.video_state(saved.owner_id, saved.video_id) is VideoState.READY
    assert client.video_url(saved.owner_id, saved.video_id).endswith(f"-{GROUP}_{saved.video_id}")


def test_processing_state_is_reported(vk, make_client, video_file):
    emulator, _ = vk
    emulator.processing_seconds = 60
    client = make_client()
    saved = client.save_video("L")
    client.upload(saved, video_file)
    assert client.video_state(saved.owner_id, saved.video_id) is VideoState.PROCESSING


def test_cut_upload_is_sent_again_once(vk, make_client, video_file):
    emulator, _ = vk
    emulator.inject(Fault(path=r"^/upload/video$", cut_after_bytes=500_000))
    client = make_client()
    saved = client.save_video("L")

    client.upload(saved, video_file)

    assert emulator.video(saved.owner_id, saved.video_id)["sha256"] == digest(video_file)
    assert emulator.uploads_received == 1
    assert len(client.sleeps) == 1


def test_file_that_arrived_is_not_sent_twice_when_the_answer_is_lost(vk, make_client, video_file):
    emulator, _ = vk
    emulator.lose_upload_answers = 1
    client = make_client()
    saved = client.save_video("L")

    result = client.upload(saved, video_file)

    assert result.video_id == saved.video_id
    assert emulator.uploads_received == 1
    assert emulator.upload_wire_bytes < video_file.stat().st_size + 1024  # one file, not two


def test_error_6_is_retried(vk, make_client):
    emulator, _ = vk
    emulator.fail("video.save", 6, times=2)
    client = make_client()
    saved = client.save_video("L")
    assert saved.video_id
    assert len(emulator.calls("POST", r"video\.save")) == 3
    assert len(client.sleeps) == 2


def test_error_9_is_retried_with_a_longer_wait(vk, make_client):
    emulator, _ = vk
    emulator.fail("video.getAlbums", 9)
    client = make_client()
    assert client.find_album("x") is None
    assert client.sleeps and client.sleeps[0] >= 0.05  # 5x the base for flood control


def test_http_429_is_retried_after_its_retry_after(vk, make_client):
    emulator, _ = vk
    emulator.inject(Fault(path=r"video\.save", status=429, headers={"Retry-After": "4"}))
    client = make_client()
    assert client.save_video("L").video_id
    assert client.sleeps == [4.0] and len(emulator.calls("POST", r"video\.save")) == 2


def test_rate_limit_that_never_ends_is_retryable_later(vk, make_client):
    emulator, _ = vk
    emulator.fail("video.save", 6, times=100)
    with pytest.raises(VkRateLimited) as info:
        make_client(attempts=3).save_video("L")
    assert info.value.retryable


def test_error_5_fails_clearly_without_retry(vk, make_client):
    emulator, _ = vk
    emulator.revoke()
    client = make_client()
    with pytest.raises(VkAuthError) as info:
        client.save_video("L")
    assert "credentials import --vk" in str(info.value)
    assert not info.value.retryable and client.sleeps == []


def test_captcha_fails_clearly(vk, make_client):
    emulator, _ = vk
    emulator.fail("video.save", 14)
    client = make_client()
    with pytest.raises(VkCaptchaRequired, match="captcha"):
        client.save_video("L")
    assert client.sleeps == []


def test_other_errors_are_not_retried(vk, make_client):
    client = make_client()
    with pytest.raises(VkApiFailure) as info:
        client.save_video("L", album_id=999)
    assert info.value.code == 100 and client.sleeps == []


def test_album_is_created_once_and_reused(vk, make_client):
    emulator, _ = vk
    client = make_client()
    for n in range(150):  # two pages of 100
        client.call("video.addAlbum", group_id=GROUP, title=f"Other {n}")

    album = client.find_or_create_album("Algebra")
    assert make_client().find_or_create_album("Algebra") == album
    assert client.find_album("Other 149") is not None
    assert len(emulator.calls("POST", r"video\.addAlbum")) == 151

    saved = client.save_video("L")
    assert client.add_to_album(album, saved.owner_id, saved.video_id) is True
    assert client.add_to_album(album, saved.owner_id, saved.video_id) is False  # error 800

    in_album = client.save_video("M", album_id=album)  # saved into the album already
    assert client.add_to_album(album, in_album.owner_id, in_album.video_id) is False
    assert emulator.in_album(-GROUP, album, in_album.owner_id, in_album.video_id)


def test_cover_is_uploaded_and_set(vk, make_client, tmp_path):
    emulator, _ = vk
    client = make_client()
    saved = client.save_video("L")
    cover = tmp_path / "cover.png"
    cover.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))

    answer = client.set_cover(saved.owner_id, saved.video_id, cover)

    assert answer["photo_owner_id"] == saved.owner_id
    assert emulator.video(saved.owner_id, saved.video_id)["thumb"]


def test_bad_cover_is_refused_before_any_call(vk, make_client, tmp_path):
    emulator, _ = vk
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(b"not an image")
    with pytest.raises(ThumbnailError):
        make_client().set_cover(-GROUP, 1, cover)
    assert emulator.requests == []


def test_session_rewrites_both_hard_coded_prefixes(vk):
    emulator, server = vk
    session = _RewritingSession(server.url + "/method/", timeout=5)
    for host in ("https://api.vk.ru", "https://api.vk.com"):
        answer = session.post(f"{host}/method/video.get", data={"access_token": emulator.token})
        assert answer.json()["response"]["count"] == 0
    assert len(emulator.calls("POST", r"video\.get")) == 2


def test_settings_point_the_client_at_the_sandbox(vk, monkeypatch):
    emulator, server = vk
    monkeypatch.setenv("VK_API_URL", server.url + "/method/")
    get_settings.cache_clear()
    try:
        client = VkClient(emulator.token, group_id=GROUP, rps_delay=0)
        assert client.find_album("x") is None
    finally:
        get_settings.cache_clear()


def test_upload_server_refuses_a_chunked_body(make_client):
    saved = make_client().save_video("L")
    answer = requests.post(saved.upload_url, data=iter([b"abc"]), timeout=5)
    assert answer.status_code == 411


def test_upload_memory_is_bounded(vk, make_client, tmp_path):
    emulator, _ = vk
    big = tmp_path / "big.mp4"
    size = 200 * 1024 * 1024
    with big.open("wb") as handle:
        handle.truncate(size)  # sparse: no disk, reads as zeros
    client = make_client()
    saved = client.save_video("Big")

    tracemalloc.start()
    try:
        client.upload(saved, big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert emulator.video(saved.owner_id, saved.video_id)["size"] == size
    print(f"peak traced memory {peak / 1e6:.2f} MB for a {size / 1e6:.0f} MB upload")
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"


def test_tokens_never_reach_logs_errors_or_reprs(vk, make_client, video_file, caplog):
    emulator, _ = vk
    caplog.set_level(logging.DEBUG)
    emulator.fail("video.save", 6)
    client = make_client()
    saved = client.save_video("L")
    client.upload(saved, video_file)
    token = emulator.token
    emulator.revoke()
    with pytest.raises(VkAuthError) as info:
        client.find_album("x")

    assert caplog.text
    for text in (caplog.text, str(info.value), repr(info.value), repr(client)):
        assert token not in text


# ---- VK's rules as the sandbox enforces them ------------------------------------------------


def test_a_community_token_fails_saying_which_token_to_create(vk, make_client):
    emulator, _ = vk
    client = VkClient(
        emulator.community_token(GROUP),
        group_id=GROUP,
        api_url=make_client().api_url,
        rps_delay=0,
        retry=RetryPolicy(sleep=pytest.fail),  # error 27 is never retried
    )
    with pytest.raises(VkGroupTokenError) as info:
        client.save_video("L")
    message = str(info.value)
    assert "error 27" in message and "community token" in message
    assert "user access token of an administrator of the community" in message
    assert "credentials import --vk" in message and not info.value.retryable
    assert emulator.videos == {}


def test_community_privacy_is_taken_and_user_privacy_refused_on_a_community_video(vk, make_client):
    emulator, _ = vk
    client = make_client()
    saved = client.save_video("L", privacy_view="by_link", privacy_comment="nobody")
    stored = emulator.video(saved.owner_id, saved.video_id)
    assert (stored["privacy_view"], stored["privacy_comment"]) == ("by_link", "nobody")

    for view, comment in (("only_me", "all"), ("friends", "all"), ("all", "friends")):
        with pytest.raises(VkApiFailure) as info:
            client.save_video("M", privacy_view=view, privacy_comment=comment)
        assert info.value.code == 100
        assert "One of the parameters specified was missing or invalid" in str(info.value)
    assert len(emulator.videos) == 1


def test_a_name_over_128_characters_is_refused_and_128_taken(make_client):
    client = make_client()
    assert client.save_video("x" * 128).video_id
    with pytest.raises(VkApiFailure, match="name") as info:
        client.save_video("x" * 129)
    assert info.value.code == 100


def test_error_29_raises_a_wait_until_the_next_moscow_midnight(vk, make_client):
    emulator, _ = vk
    emulator.daily_limits["video.save"] = 1
    client = make_client()
    client.save_video("L")
    with pytest.raises(VkDailyLimitReached) as info:
        client.save_video("M")
    assert info.value.resume_at == next_moscow_midnight()
    assert info.value.method == "video.save" and "error 29" in str(info.value)
    assert client.sleeps == [] and len(emulator.calls("POST", r"video\.save")) == 2


@pytest.mark.parametrize(
    ("now", "midnight"),
    [
        (datetime(2026, 3, 5, 20, 59, tzinfo=UTC), datetime(2026, 3, 6, 0, 0, tzinfo=MOSCOW)),
        (datetime(2026, 3, 5, 21, 0, tzinfo=UTC), datetime(2026, 3, 7, 0, 0, tzinfo=MOSCOW)),
    ],
)
def test_the_next_moscow_midnight(now: datetime, midnight: datetime) -> None:
    assert next_moscow_midnight(now) == midnight


def test_video_check_reports_processing_files_and_duration(vk, make_client, video_file):
    emulator, _ = vk
    emulator.processing_seconds = 60
    client = make_client()
    saved = client.save_video("L")
    client.upload(saved, video_file)
    emulator.video(saved.owner_id, saved.video_id)["duration"] = 3600

    processing = client.video_check(saved.owner_id, saved.video_id)
    assert processing == VideoCheck(listed=True, processing=True, has_files=False, duration=None)
    assert processing.state is VideoState.PROCESSING

    emulator.video(saved.owner_id, saved.video_id)["ready_at"] = 0
    done = client.video_check(saved.owner_id, saved.video_id)
    assert done == VideoCheck(listed=True, processing=False, has_files=True, duration=3600.0)
    assert done.state is VideoState.READY


def test_a_saved_video_listed_before_its_file_arrived_is_missing(vk, make_client, video_file):
    emulator, _ = vk
    emulator.list_before_upload = True
    client = make_client()
    saved = client.save_video("L")

    listed = client.video_check(saved.owner_id, saved.video_id)
    assert listed.listed and not listed.has_files and listed.duration is None
    assert listed.state is VideoState.MISSING

    client.upload(saved, video_file)
    assert client.video_state(saved.owner_id, saved.video_id) is VideoState.READY


def test_check_publishing_tells_a_user_token_that_may_upload(vk, make_client):
    check = make_client().check_publishing("all")
    assert check.problems == []
    assert check.notes == (
        "VK takes the token as a user token",
        f"its user, administrator of community 'Community {GROUP}' ({GROUP}), may upload "
        "videos there",
    )


def test_check_publishing_catches_a_community_token(vk, make_client):
    emulator, _ = vk
    client = make_client()
    check = VkClient(
        emulator.community_token(GROUP), group_id=GROUP, api_url=client.api_url, rps_delay=0
    ).check_publishing()
    assert check.token_problem and "error 27" in check.token_problem
    assert "user access token of an administrator" in check.token_problem


def test_check_publishing_catches_a_user_who_may_not_upload_and_a_closed_community(vk, make_client):
    emulator, _ = vk
    emulator.groups[GROUP] = {"is_admin": 0, "can_upload_video": 0}
    refused = make_client().check_publishing()
    assert refused.token_problem is None
    assert refused.community_problem and "may not upload videos to community" in (
        refused.community_problem
    )

    emulator.groups[GROUP] = {"is_closed": 1}
    closed = make_client().check_publishing("all")
    assert closed.problems == []
    assert any("privacy all (0) is only for open communities" in n for n in closed.notes)
    assert not any("only for open" in n for n in make_client().check_publishing("by_link").notes)


def test_check_publishing_without_vk_says_the_token_was_not_checked(vk, make_client):
    emulator, _ = vk
    check = make_client(api_url="http://127.0.0.1:9/method/", attempts=1).check_publishing()
    assert check.problems == []
    assert len(check.notes) == 1 and check.notes[0].startswith("the VK token was not checked")
    assert emulator.token not in check.notes[0]
