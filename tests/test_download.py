"""download_file against the Zoom emulator: redirects, resume, restarts, retries, checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from integrations.disk import free_space
from integrations.download import (
    SPACE,
    DownloadAuthError,
    DownloadError,
    DownloadInterruptedError,
    DownloadResult,
    InsufficientDiskSpaceError,
    LocalFileError,
    SizeMismatchError,
    download_file,
    part_path,
)
from integrations.http.retry import RetryPolicy
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.zoom import FileSpec, ManualClock, ZoomEmulator
from integrations.zoom import ZoomClient, ZoomFile

DATA = os.urandom(3 * 1024 * 1024 + 12345)


@dataclass
class Env:
    zoom: ZoomEmulator
    client: ZoomClient
    file: ZoomFile
    clock: ManualClock
    retry: RetryPolicy

    def get(self, dest: Path, **kwargs):
        options = {"token": self.client.bearer, "retry": self.retry, "min_free_mb": 0}
        options.update(kwargs)
        size = options.pop("size", self.file.file_size)
        return download_file(self.file.download_url, dest, size, timeout=5, **options)

    def storage_ranges(self) -> list[str | None]:
        return [r.header("range") for r in self.zoom.calls("GET", r"^/storage/")]


def serve(files: list[FileSpec], honour_range: bool = True) -> Iterator[Env]:
    zoom = ZoomEmulator(honour_range=honour_range)
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    start = datetime(2026, 9, 1, 10, tzinfo=UTC)
    meeting = zoom.add_meeting(account, user, topic="Lecture", start_time=start, files=files)
    clock = ManualClock()
    retry = RetryPolicy(attempts=4, sleep=clock.sleep, jitter=lambda: 1.0)
    with LoopbackServer(zoom):
        client = ZoomClient(
            account.credentials,
            api_url=zoom.api_url,
            oauth_url=zoom.oauth_url,
            timeout=5,
            retry=retry,
            clock=clock,
        )
        data = client.meeting_recordings(meeting.uuid)
        from integrations.zoom import parse_instance

        file = parse_instance(data).mp4_files[0]
        with client:
            yield Env(zoom, client, file, clock, retry)


@pytest.fixture
def env() -> Iterator[Env]:
    yield from serve([FileSpec(data=DATA)])


def test_downloads_through_the_redirect_with_progress(env, tmp_path):
    seen: list[tuple[int, int]] = []
    result = env.get(tmp_path / "a.mp4", progress=lambda done, total: seen.append((done, total)))
    assert result.part_path == tmp_path / "a.mp4.part"
    assert result.part_path.read_bytes() == DATA
    assert (result.size, result.resumed_from, result.restarts) == (len(DATA), 0, 0)
    assert seen[0] == (0, len(DATA)) and seen[-1] == (len(DATA), len(DATA))
    assert len(seen) >= 4  # about one call per MiB
    assert env.zoom.calls("GET", r"^/rec/download/")[0].header("authorization").startswith("Bearer")
    assert env.storage_ranges() == [None]


def test_a_cut_is_resumed_from_the_cut(env, tmp_path):
    env.zoom.cut_download(1_000_000)
    result = env.get(tmp_path / "a.mp4")
    assert result.part_path.read_bytes() == DATA
    assert env.storage_ranges() == [None, "bytes=1000000-"]
    assert env.clock.sleeps == [1.0]
    assert result.attempts == 2


def test_a_killed_download_resumes_from_the_part_file(env, tmp_path):
    part_path(tmp_path / "a.mp4").write_bytes(DATA[:777_777])
    result = env.get(tmp_path / "a.mp4")
    assert result.resumed_from == 777_777
    assert result.part_path.read_bytes() == DATA
    assert env.storage_ranges() == ["bytes=777777-"]


def test_a_complete_part_file_needs_no_request(env, tmp_path):
    part_path(tmp_path / "a.mp4").write_bytes(DATA)
    assert env.get(tmp_path / "a.mp4").size == len(DATA)
    assert env.zoom.calls("GET", r"^/storage/") == []


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    for env in serve([FileSpec(data=DATA)], honour_range=False):
        part_path(tmp_path / "a.mp4").write_bytes(b"\xff" * 500_000)  # not even the right bytes
        result = env.get(tmp_path / "a.mp4")
        assert result.restarts == 1
        assert result.part_path.read_bytes() == DATA
        assert env.storage_ranges() == ["bytes=500000-"]


def test_size_mismatch_fails_and_discards_the_part(tmp_path):
    for env in serve([FileSpec(data=DATA, reported_size=len(DATA) + 10)]):
        with pytest.raises(SizeMismatchError, match="size mismatch: Zoom lists") as caught:
            env.get(tmp_path / "a.mp4")
        assert not caught.value.retryable
        assert part_path(tmp_path / "a.mp4").stat().st_size == 0


def test_server_sending_more_than_listed_fails(env, tmp_path):
    with pytest.raises(SizeMismatchError):
        env.get(tmp_path / "a.mp4", size=len(DATA) - 1)


def test_rate_limit_and_server_errors_are_retried(env, tmp_path):
    env.zoom.rate_limit(r"^/storage/", retry_after=3)
    env.zoom.server_error(r"^/rec/download/", status=502)
    result = env.get(tmp_path / "a.mp4")
    assert result.part_path.read_bytes() == DATA
    assert sorted(env.clock.sleeps) == [1.0, 3.0]


def test_gives_up_after_the_attempts_and_keeps_the_part(env, tmp_path):
    env.zoom.cut_download(0, times=10)
    with pytest.raises(DownloadInterruptedError, match="failed 4 times in a row") as caught:
        env.get(tmp_path / "a.mp4")
    assert caught.value.retryable
    assert env.clock.sleeps == [1.0, 2.0, 4.0]


def test_expired_token_is_refreshed_once(env, tmp_path):
    env.client.bearer()
    env.zoom.expire_tokens()
    assert env.get(tmp_path / "a.mp4").size == len(DATA)
    stale = env.zoom.issued_tokens()[0]
    env.zoom.expire_tokens()
    with pytest.raises(DownloadAuthError, match="refused the access token"):
        env.get(tmp_path / "b.mp4", token=stale)


def test_low_disk_space_fails_before_any_request(env, tmp_path):
    with pytest.raises(InsufficientDiskSpaceError, match="not enough free space"):
        env.get(tmp_path / "a.mp4", min_free_mb=10**12)
    assert env.zoom.calls("GET", r"^/rec/download/") == []


def test_downloads_in_flight_hold_their_rest_of_the_disk(env, tmp_path):
    """Another download in flight on the same disk still has to write all but half of this
    file's size of the free space (asked when this one checks): this one does not fit beside
    it, though it fits alone; once the other is done, it downloads."""
    half = len(DATA) // 2
    other = SPACE.reserve(tmp_path, lambda: free_space(tmp_path) - half, 0, "the other")
    with other, pytest.raises(InsufficientDiskSpaceError) as refused:
        env.get(tmp_path / "a.mp4")
    message = str(refused.value)
    assert message.startswith(f"not enough free space in {tmp_path} for a.mp4: 3.0 MB to ")
    assert "for 1 download(s) in flight needed" in message
    assert refused.value.waits and refused.value.needed > refused.value.free
    assert env.zoom.calls("GET", r"^/rec/download/") == []
    assert env.get(tmp_path / "a.mp4").size == len(DATA)


def test_large_file_streams_from_disk_in_chunks(tmp_path):
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        out.truncate(40 * 1024 * 1024 + 3)  # sparse
    for env in serve([FileSpec(path=source)]):
        env.zoom.cut_download(25 * 1024 * 1024)
        result = env.get(tmp_path / "a.mp4")
        assert result.size == source.stat().st_size
        assert env.storage_ranges() == [None, f"bytes={25 * 1024 * 1024}-"]


def test_a_part_file_longer_than_the_file_restarts(env, tmp_path):
    part_path(tmp_path / "a.mp4").write_bytes(b"\x00" * (len(DATA) + 5))
    result = env.get(tmp_path / "a.mp4")
    assert result.part_path.read_bytes() == DATA
    assert env.storage_ranges() == [None]


def test_a_file_listed_without_a_size_takes_the_servers_and_resumes(env, tmp_path):
    env.zoom.cut_download(1_000_000)
    seen: list[tuple[int, int]] = []
    result = env.get(
        tmp_path / "a.vtt", size=None, progress=lambda done, total: seen.append((done, total))
    )
    assert result.part_path.read_bytes() == DATA and result.size == len(DATA)
    assert env.storage_ranges() == [None, "bytes=1000000-"]
    assert seen[0] == (0, 0) and seen[-1] == (len(DATA), len(DATA))


class Body(httpx.SyncByteStream):
    """A mock response body as a network stream: `data`, then a cut when `cut`."""

    def __init__(self, data: bytes, *, cut: bool = False) -> None:
        self.data = data
        self.cut = cut

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        if self.cut:
            raise httpx.ReadError("connection reset by peer")


def fetch_mocked(
    tmp_path: Path, answers: list[httpx.Response], size: int | None = None
) -> tuple[DownloadResult, list[str]]:
    """`download_file` of a `size` file (None: not listed), the server answering `answers` in
    turn; returns the result and the `Range` headers sent."""
    ranges: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ranges.append(request.headers.get("Range", ""))
        return answers.pop(0)

    clock = ManualClock()
    retry = RetryPolicy(attempts=3, sleep=clock.sleep, jitter=lambda: 1.0)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = download_file(
            "https://zoom.test/rec/download/cc", tmp_path / "cc.vtt", size,
            client=client, retry=retry, min_free_mb=0, timeout=5,
        )  # fmt: skip
    return result, ranges


VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n"


def test_an_unlisted_size_is_held_to_the_servers_first_answer(tmp_path):
    length = {"Content-Length": str(len(VTT))}
    cut = httpx.Response(200, headers=length, stream=Body(VTT[:9], cut=True))
    rest = httpx.Response(
        206, headers={"Content-Range": f"bytes 9-{len(VTT) - 1}/{len(VTT)}"}, stream=Body(VTT[9:])
    )
    result, ranges = fetch_mocked(tmp_path, [cut, rest])
    assert result.part_path.read_bytes() == VTT and ranges == ["", "bytes=9-"]

    result.part_path.unlink()
    cut = httpx.Response(200, headers=length, stream=Body(VTT[:9], cut=True))
    longer = httpx.Response(
        206, headers={"Content-Range": f"bytes 9-{len(VTT)}/{len(VTT) + 1}"}, stream=Body(VTT[8:])
    )
    with pytest.raises(SizeMismatchError, match=f"the server announced {len(VTT)} bytes"):
        fetch_mocked(tmp_path, [cut, longer])


def test_without_any_length_the_file_ends_with_the_response(tmp_path):
    streamed = httpx.Response(200, stream=Body(VTT))  # neither Content-Length nor Content-Range
    result, _ = fetch_mocked(tmp_path, [streamed])
    assert result.part_path.read_bytes() == VTT


def test_an_empty_file_is_downloaded_not_assumed(tmp_path):
    empty = httpx.Response(200, headers={"Content-Length": "0"}, stream=Body(b""))
    result, ranges = fetch_mocked(tmp_path, [empty], size=0)
    assert ranges == [""] and result.part_path.is_file() and result.size == 0


def test_a_local_disk_error_is_a_download_error(env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(LocalFileError, match="not-a-folder") as caught:
        env.get(blocker / "a.mp4")
    assert isinstance(caught.value, DownloadError) and not caught.value.retryable
    assert env.zoom.calls("GET", r"^/rec/download/") == []
