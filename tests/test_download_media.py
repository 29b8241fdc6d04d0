"""MP4 checks and the lossless segment join, on tiny clips made with FFmpeg at run time."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from disk_mounts import fill, tmpfs

from integrations.download import (
    InvalidMediaError,
    JoinError,
    LocalFileError,
    download_file,
    download_recording,
    join_segments,
    verify_mp4,
)
from integrations.http.retry import RetryPolicy
from integrations.media.ffmpeg import ffmpeg_binary
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.zoom import FileSpec, ZoomEmulator
from integrations.zoom import ZoomClient

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


def make_clip(path: Path, seconds: float, freq: int) -> Path:
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size=64x48:rate=10:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "32k", "-shortest", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [make_clip(folder / f"seg{n}.mp4", 1.0 + n, 440 + 100 * n) for n in range(2)]


def test_stop_restart_segments_download_verify_and_join(clips, tmp_path):
    zoom = ZoomEmulator()
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    specs = [
        FileSpec(path=clips[1], offset_min=40, duration_min=20),
        FileSpec(path=clips[0], offset_min=0, duration_min=35),
        FileSpec("audio_transcript", data=b"WEBVTT\n\n"),
    ]
    start = datetime(2026, 9, 1, 10, tzinfo=UTC)
    meeting = zoom.add_meeting(account, user, topic="Seg", start_time=start, files=specs)
    retry = RetryPolicy(attempts=2, sleep=lambda s: None)
    with (
        LoopbackServer(zoom),
        ZoomClient(
            account.credentials,
            api_url=zoom.api_url,
            oauth_url=zoom.oauth_url,
            timeout=5,
            retry=retry,
        ) as client,
    ):
        [instance] = client.instances(start.date(), start.date())
        assert instance.uuid == meeting.uuid and instance.transcript is not None
        parts = []
        for n, f in enumerate(instance.mp4_files):
            dest = tmp_path / f"seg{n}.mp4"
            result = download_file(
                f.download_url,
                dest,
                f.file_size,
                token=client.bearer,
                retry=retry,
                min_free_mb=0,
                timeout=5,
            )
            result.part_path.replace(dest)
            segment = verify_mp4(dest)
            assert segment.video is not None and segment.extra_streams == ()
            parts.append(dest)
    assert [p.read_bytes() for p in parts] == [c.read_bytes() for c in clips]  # ordered
    joined = tmp_path / "joined.mp4"
    info = join_segments(parts, joined)
    assert info.duration == pytest.approx(3.0, abs=0.2)
    assert (info.video is not None, info.audio is not None, info.extra_streams) == (True, True, ())
    assert verify_mp4(joined).duration == pytest.approx(3.0, abs=0.2)
    assert joined.stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".*"))  # no temporary file or concat listing left


def test_single_segment_is_just_renamed(clips, tmp_path):
    source = tmp_path / "only.mp4"
    source.write_bytes(clips[0].read_bytes())
    join_segments([source], tmp_path / "final.mp4")
    assert not source.exists() and (tmp_path / "final.mp4").exists()


def test_a_disk_that_fills_up_during_the_join_is_a_disk_error(clips, tmp_path):
    """FFmpeg's "No space left on device" (at the trailer, where FFmpeg 5.1 still exits 0) is
    the downloader's disk error (the recording waits for room), not a failed join or a broken
    file; nothing is left on the disk."""
    with tmpfs(tmp_path / "small", "1m") as disk:
        fill(disk, leave=8192)
        with pytest.raises(LocalFileError, match="no space left on the disk") as raised:
            join_segments(clips, disk / "joined.mp4")
        assert raised.value.waits
        assert [p.name for p in disk.iterdir()] == ["filler"]


def test_ffmpeg_refusing_the_join_names_its_reason(clips, tmp_path):
    """A first segment whose video an MP4 cannot hold (raw RGB, fine in a MOV): FFmpeg's last
    error line, and no file left."""
    raw = tmp_path / "raw.mov"
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clips[1]),
            "-c:v", "rawvideo", "-pix_fmt", "rgb24", "-c:a", "copy", str(raw),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    with pytest.raises(JoinError, match=r"^FFmpeg could not join into joined\.mp4: \S"):
        join_segments([raw, clips[0]], tmp_path / "joined.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.mov"]


def test_verify_rejects_garbage_and_truncated_files(clips, tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 5000)
    with pytest.raises(InvalidMediaError, match=r"garbage\.mp4"):
        verify_mp4(garbage)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clips[0].read_bytes()[:2000])
    with pytest.raises(InvalidMediaError):
        verify_mp4(truncated)
    matroska = tmp_path / "other.mp4"
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-i", str(clips[0]),
         "-c", "copy", "-f", "matroska", str(matroska)],
        check=True,
        timeout=60,
    )  # fmt: skip
    with pytest.raises(InvalidMediaError, match=r"^other\.mp4 is matroska,webm, not MP4$"):
        verify_mp4(matroska)


def test_download_recording_joins_segments_with_overall_progress(clips, tmp_path):
    zoom = ZoomEmulator()
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    start = datetime(2026, 9, 1, 10, tzinfo=UTC)
    specs = [FileSpec(path=clips[0]), FileSpec(path=clips[1], offset_min=30)]
    zoom.add_meeting(account, user, topic="Seg", start_time=start, files=specs)
    retry = RetryPolicy(attempts=2, sleep=lambda s: None)
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "7-Seg.mp4"
    with (
        LoopbackServer(zoom),
        ZoomClient(
            account.credentials,
            api_url=zoom.api_url,
            oauth_url=zoom.oauth_url,
            timeout=5,
            retry=retry,
        ) as client,
    ):
        [instance] = client.instances(start.date(), start.date())
        # segment 0 already finished by an earlier, interrupted run
        (tmp_path / "7-Seg.seg0.mp4").write_bytes(clips[0].read_bytes())
        info = download_recording(
            instance.mp4_files, dest, token=client.bearer, retry=retry, min_free_mb=0,
            timeout=5, progress=lambda done, total: seen.append((done, total)),
        )  # fmt: skip
    assert info.duration == pytest.approx(3.0, abs=0.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["7-Seg.mp4"]
    total = instance.mp4_size
    assert seen[0] == (clips[0].stat().st_size, total) and seen[-1] == (total, total)
    assert len(zoom.calls("GET", r"^/storage/")) == 1  # only the missing segment


def test_download_recording_discards_a_complete_but_broken_file(tmp_path):
    zoom = ZoomEmulator()
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    start = datetime(2026, 9, 1, 10, tzinfo=UTC)
    zoom.add_meeting(account, user, topic="Bad", start_time=start, files=[FileSpec(size=4096)])
    retry = RetryPolicy(attempts=2, sleep=lambda s: None)
    with (
        LoopbackServer(zoom),
        ZoomClient(
            account.credentials,
            api_url=zoom.api_url,
            oauth_url=zoom.oauth_url,
            timeout=5,
            retry=retry,
        ) as client,
    ):
        [instance] = client.instances(start.date(), start.date())
        with pytest.raises(InvalidMediaError):
            download_recording(
                instance.mp4_files, tmp_path / "x.mp4", token=client.bearer, retry=retry,
                min_free_mb=0, timeout=5,
            )  # fmt: skip
    assert list(tmp_path.iterdir()) == []
