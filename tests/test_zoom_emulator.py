"""The Zoom emulator's contract on the wire: OAuth errors, paging, Range, redirects, auth."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.zoom import FileSpec, ZoomEmulator, synthetic_bytes
from integrations.zoom import parse_instance

DATA = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def zoom():
    emulator = ZoomEmulator()
    with LoopbackServer(emulator):
        yield emulator


def token_for(zoom: ZoomEmulator, account) -> str:
    response = httpx.post(
        zoom.oauth_url,
        params={"grant_type": "account_credentials", "account_id": account.account_id},
        auth=(account.client_id, account.client_secret),
    )
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3599
    return body["access_token"]


def test_oauth_rejects_a_wrong_secret_like_zoom(zoom):
    account = zoom.add_account("acme")
    response = httpx.post(
        zoom.oauth_url,
        params={"grant_type": "account_credentials", "account_id": account.account_id},
        auth=(account.client_id, "nope"),
    )
    assert response.status_code == 401
    assert response.json() == {
        "reason": "Invalid client_id or client_secret",
        "error": "invalid_client",
    }


def test_api_rejects_missing_and_expired_tokens(zoom):
    account = zoom.add_account("acme")
    missing = httpx.get(f"{zoom.api_url}/users")
    assert missing.status_code == 401 and missing.json()["code"] == 124
    token = token_for(zoom, account)
    zoom.expire_tokens(account)
    expired = httpx.get(f"{zoom.api_url}/users", headers={"Authorization": f"Bearer {token}"})
    assert expired.json() == {"code": 124, "message": "Access token is expired."}


def test_paging_defaults_to_30_and_tokens_are_checked(zoom):
    account = zoom.add_account("acme")
    for _ in range(35):
        zoom.add_user(account)
    auth = {"Authorization": f"Bearer {token_for(zoom, account)}"}
    first = httpx.get(f"{zoom.api_url}/users", headers=auth).json()
    assert (first["page_size"], len(first["users"]), first["total_records"]) == (30, 30, 35)
    second = httpx.get(
        f"{zoom.api_url}/users",
        params={"next_page_token": first["next_page_token"]},
        headers=auth,
    ).json()
    assert len(second["users"]) == 5 and second["next_page_token"] == ""
    bad = httpx.get(f"{zoom.api_url}/users", params={"next_page_token": "x"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["code"] == 300
    big = httpx.get(f"{zoom.api_url}/users", params={"page_size": 1000}, headers=auth).json()
    assert big["page_size"] == 300 and len(big["users"]) == 35


def test_download_redirects_to_storage_that_serves_ranges(zoom):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    meeting = zoom.add_meeting(
        account, user, topic="T", start_time=start, files=[FileSpec(data=DATA)]
    )
    url = zoom.meeting_json(meeting)["recording_files"][0]["download_url"]
    assert httpx.get(url).status_code == 401
    token = token_for(zoom, account)
    redirect = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert redirect.status_code == 302
    storage = redirect.headers["Location"]
    assert "/storage/" in storage and "signature=" in storage
    assert httpx.get(url, params={"access_token": token}).status_code == 302
    full = httpx.get(storage)
    assert full.status_code == 200 and full.content == DATA
    assert full.headers["Accept-Ranges"] == "bytes"
    part = httpx.get(storage, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == DATA[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(DATA)}"
    tail = httpx.get(storage, headers={"Range": f"bytes={len(DATA) - 10}-"})
    assert tail.content == DATA[-10:]
    past = httpx.get(storage, headers={"Range": f"bytes={len(DATA)}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(DATA)}"
    assert httpx.get(storage.replace("signature=", "signature=0")).status_code == 403
    other = zoom.add_account("other")
    foreign = httpx.get(url, headers={"Authorization": f"Bearer {token_for(zoom, other)}"})
    assert foreign.status_code == 404


def test_synthetic_content_is_consistent_across_ranges():
    whole = synthetic_bytes(0, 10_000)
    assert synthetic_bytes(1234, 5678) == whole[1234:5678]
    assert len(whole) == 10_000


def test_cc_and_timeline_files_are_listed_bare_everywhere_and_still_download(zoom):
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    captions = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n"
    meeting = zoom.add_meeting(
        account,
        user,
        topic="T",
        start_time=datetime.now(UTC),
        files=[
            FileSpec(data=DATA),
            FileSpec("closed_caption", data=captions),
            FileSpec("timeline", data=b"{}"),
            FileSpec("audio_transcript", data=captions),
        ],
    )
    auth = {"Authorization": f"Bearer {token_for(zoom, account)}"}
    listed = httpx.get(f"{zoom.api_url}/users/{user.id}/recordings", headers=auth).json()
    (in_list,) = listed["meetings"]
    lookup = httpx.get(f"{zoom.api_url}/meetings/{meeting.id}/recordings", headers=auth).json()
    event = zoom.recording_completed(meeting)
    in_event = event["payload"]["object"]
    for body in (in_list, lookup, in_event):
        files = {f["file_type"]: f for f in body["recording_files"]}
        assert files.keys() == {"MP4", "CC", "TIMELINE", "TRANSCRIPT"}
        for kind in ("CC", "TIMELINE"):
            assert sorted(files[kind]) == [
                "download_url",
                "file_extension",
                "file_type",
                "meeting_id",
                "recording_end",
                "recording_start",
            ]
        for kind in ("MP4", "TRANSCRIPT"):
            assert {"id", "status", "file_size", "recording_type", "play_url"} <= files[kind].keys()
        assert (files["CC"]["file_extension"], files["TIMELINE"]["file_extension"]) == (
            "VTT",
            "JSON",
        )

    from_event = parse_instance(in_event)
    assert from_event.transcript is not None and from_event.transcript.file_type == "TRANSCRIPT"
    assert [f.file_size for f in from_event.mp4_files] == [len(DATA)]

    by_type = {f["file_type"]: f["download_url"] for f in lookup["recording_files"]}
    got = httpx.get(by_type["CC"], headers=auth, follow_redirects=True)
    assert got.status_code == 200 and got.content == captions
    assert got.headers["Content-Length"] == str(len(captions))
    hook = {f["file_type"]: f["download_url"] for f in in_event["recording_files"]}["TIMELINE"]
    token = {"Authorization": f"Bearer {event['download_token']}"}
    assert httpx.get(hook, headers=token, follow_redirects=True).content == b"{}"
