"""The YouTube client and sandbox against the discovery document google-api-python-client installs.

One module fixture runs every call the publisher makes (a resumed resumable upload, thumbnail,
playlist find/create/add, captions, the marker search, videos.list checks, a refused thumbnail)
through the real client against the sandbox; the tests hold what went over the wire to the
document (see tests/youtube_contract.py). The same checks run after every test of
tests/test_youtube.py and tests/test_upload_flow.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from integrations.sandbox.server import LoopbackServer, Request, Response
from integrations.youtube import (
    QUOTA_COSTS,
    CustomThumbnailsForbidden,
    QuotaUse,
    VideoMetadata,
    YouTubeClient,
)
from tests.youtube_contract import (
    Call,
    RecordingYouTubeEmulator,
    answer_problems,
    contract_problems,
    request_problems,
)

CHUNK = 256 * 1024
MARKER = "[zp:contract]"
# What the client reads from each method's answer ("items" stands for every item of the list).
READS = {
    "youtube.videos.insert": ["id", "status.uploadStatus", "status.privacyStatus"],
    "youtube.videos.list": [
        "items.id",
        "items.snippet.description",
        "items.status.uploadStatus",
        "items.status.privacyStatus",
        "items.contentDetails.duration",
    ],
    "youtube.channels.list": ["items.contentDetails.relatedPlaylists.uploads"],
    "youtube.playlistItems.list": [
        "items.id",
        "items.snippet.description",
        "items.snippet.resourceId.videoId",
    ],
    "youtube.playlists.list": ["items.id", "items.snippet.title"],
    "youtube.playlists.insert": ["id"],
    "youtube.playlistItems.insert": ["id"],
    "youtube.thumbnails.set": ["items"],
    "youtube.captions.insert": ["id", "snippet.language"],
}


class Crash(Exception):  # noqa: N818
    """Stands in for a kill -9 between two chunks."""


def _crash(confirmed: int) -> None:
    raise Crash


@pytest.fixture(scope="module")
def exercised(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RecordingYouTubeEmulator, list[QuotaUse]]:
    """The sandbox after every call the publisher makes, and the quota the client counted."""
    folder = tmp_path_factory.mktemp("contract")
    video = folder / "lecture.mp4"
    video.write_bytes(os.urandom(2 * CHUNK + 1000))
    thumbnail = folder / "thumb.jpg"
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(1000))
    captions = folder / "lecture.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n")
    emulator = RecordingYouTubeEmulator()
    quota: list[QuotaUse] = []
    with LoopbackServer(emulator) as server:

        def client() -> YouTubeClient:
            info = emulator.authorized_user_info()
            return YouTubeClient(
                info, api_url=server.url, chunk_size=CHUNK, on_quota=quota.append, timeout=5
            )

        metadata = VideoMetadata("Lecture", f"Notes\n\n{MARKER}", ["math"], default_language="ru")
        sessions: list[str] = []
        with pytest.raises(Crash):
            client().upload_video(video, metadata, on_session=sessions.append, on_progress=_crash)
        youtube = client()  # a new process resumes the stored session
        video_id = youtube.upload_video(video, metadata, session_uri=sessions[0])["id"]
        youtube.set_thumbnail(video_id, thumbnail)
        playlist = youtube.find_or_create_playlist("Algebra 2026")
        assert youtube.find_or_create_playlist("Algebra 2026") == playlist  # found by listing
        youtube.add_to_playlist(playlist, video_id)
        youtube.insert_caption(video_id, captions, language="ru", name="Transcript")
        assert youtube.find_video(marker=MARKER) is not None
        assert youtube.video_check(video_id) is not None
        youtube.video_duration(video_id)  # random bytes: no duration, but the call is made
        emulator.custom_thumbnails = False
        with pytest.raises(CustomThumbnailsForbidden):
            youtube.set_thumbnail(video_id, thumbnail)
    return emulator, quota


def test_every_request_is_a_documented_method_with_documented_parameters(exercised):
    emulator, _ = exercised
    problems = [p for request in emulator.requests for p in request_problems(request)[1]]
    assert problems == []


def test_the_calls_cover_every_method_the_client_counts_and_the_upload_paths(exercised):
    emulator, quota = exercised
    calls = {call for r in emulator.requests if (call := request_problems(r)[0]) is not None}
    assert {use.method for use in quota} == set(QUOTA_COSTS)  # nothing the client does is left
    assert {call.method for call in calls} == {f"youtube.{method}" for method in QUOTA_COSTS}
    for method in ("videos.insert", "thumbnails.set", "captions.insert"):
        assert Call(f"youtube.{method}", upload=True) in calls  # upload/youtube/v3/...
    paths = {r.path for r in emulator.requests}
    assert {
        "/upload/youtube/v3/videos",
        "/upload/youtube/v3/thumbnails/set",
        "/upload/youtube/v3/captions",
    } <= paths


def test_videos_list_by_id_never_sends_max_results(exercised):
    emulator, _ = exercised
    by_id = [r for r in emulator.calls("GET", r"^/youtube/v3/videos$") if "id" in r.query]
    assert len(by_id) >= 3  # find_video, video_check, video_duration
    assert all("maxResults" not in r.query for r in by_id)
    assert emulator.unsupported == []


def test_answers_fit_the_documented_schemas(exercised):
    emulator, _ = exercised
    assert [p for r, a in emulator.answers for p in answer_problems(r, a)] == []
    assert contract_problems(emulator) == []


def _dig(value: Any, path: list[str]) -> list[Any]:
    if not path:
        return [value]
    if isinstance(value, list):
        return [found for item in value for found in _dig(item, path)]
    if isinstance(value, dict) and path[0] in value:
        return _dig(value[path[0]], path[1:])
    return []


def test_answers_carry_every_field_the_client_reads(exercised):
    emulator, _ = exercised
    answered: dict[str, list[Any]] = {}
    for request, response in emulator.answers:
        call, _ = request_problems(request)
        if "upload_id" in request.query:  # a resumable session: its last answer is the insert's
            call = Call("youtube.videos.insert", upload=True)
        if call and response.status in (200, 201) and isinstance(response.body, bytes):
            answered.setdefault(call.method, []).append(json.loads(response.body or b"null"))
    missing = [
        f"{method}: {field}"
        for method, fields in READS.items()
        for field in fields
        if not any(_dig(body, field.split(".")) for body in answered.get(method, []))
    ]
    assert missing == []


def test_the_refused_thumbnail_answer_is_youtubes_403_body(exercised):
    emulator, _ = exercised
    response = [a for r, a in emulator.answers if r.path.endswith("/thumbnails/set")][-1]
    assert response.status == 403
    error = json.loads(response.body)["error"]
    assert error["code"] == 403
    assert error["message"] == (
        "The authenticated user doesn't have permissions to upload and set custom video thumbnails."
    )
    (detail,) = error["errors"]
    assert (detail["domain"], detail["reason"]) == ("youtube.thumbnail", "forbidden")
    assert detail["message"] == error["message"]


# ---- the checks themselves find what the document forbids -----------------------------------


def _request(method: str, path: str, query: dict[str, str], body: Any = None) -> Request:
    headers = {"content-type": "application/json"} if body is not None else {}
    data = json.dumps(body).encode() if body is not None else b""
    return Request(method, path, query, headers, {}, data)


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (
            _request("GET", "/youtube/v3/videos", {"part": "status", "id": "x", "maxResults": "1"}),
            "maxResults is not supported with id",
        ),
        (_request("GET", "/youtube/v3/videos", {"part": "snippets", "id": "x"}), "part 'snippets'"),
        (_request("GET", "/youtube/v3/videos", {"id": "x"}), "part is required"),
        (
            _request("GET", "/youtube/v3/playlists", {"part": "id", "mine": "yes"}),
            "mine='yes' is not a boolean",
        ),
        (
            _request("GET", "/youtube/v3/playlists", {"part": "id", "mine": "true", "limit": "5"}),
            "limit is not a parameter of youtube.playlists.list",
        ),
        (
            _request("GET", "/youtube/v3/playlistItems", {"part": "id", "maxResults": "51"}),
            "maxResults=51 is outside 0..50",
        ),
        (
            _request(
                "POST",
                "/upload/youtube/v3/videos",
                {"part": "snippet,status", "uploadType": "resumable"},
                {"snippet": {"title": "T"}, "status": {"privacyStatus": "hidden"}},
            ),
            "body.status.privacyStatus: 'hidden' is not one of",
        ),
        (
            _request("POST", "/upload/youtube/v3/thumbnails/set", {"videoId": "x"}),
            "an upload needs uploadType",
        ),
        (_request("GET", "/youtube/v3/video", {"part": "id"}), "no method of the discovery"),
    ],
)
def test_the_request_check_finds_what_the_document_forbids(request_: Request, problem: str):
    _, problems = request_problems(request_)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"items": [{"id": "x", "status": {"uploadStatus": "done"}}]}, "'done' is not one of"),
        ({"items": [{"id": "x", "contentDetails": {"duration": 61}}]}, "61 is not a string"),
        ({"items": [{"id": 7}]}, "answer.items[0].id: 7 is not a string"),
        ({"items": [{"id": "x", "sha256": "ab"}]}, "sha256: not a field of Video"),
    ],
)
def test_the_answer_check_finds_what_the_document_forbids(answer: dict[str, Any], problem: str):
    request = _request("GET", "/youtube/v3/videos", {"part": "status", "id": "x"})
    response = Response.json(answer)
    assert any(problem in p for p in answer_problems(request, response))
