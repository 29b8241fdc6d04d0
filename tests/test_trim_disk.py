"""`zoom-publisher trim` onto a full or read-only disk (issue 20): one line naming the path and
the cause, exit code 2 (3 for an I/O error), no traceback, nothing left in the folder.

The destinations are small tmpfs mounts (root only: skipped, saying why, where mounting is not
possible); each is unmounted in the fixture's teardown.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from disk_mounts import tmpfs
from media_factory import MediaSpec, make_media

from config.processing import ProcessingProfiles
from config.settings import get_settings
from flows.cli import main
from integrations.disk import mb
from integrations.media import output
from integrations.media.errors import FFmpegError, InsufficientSpaceError, MediaOutputError
from integrations.media.output import output_errors
from integrations.media.profile_space import check_profile_space, estimate_profile_bytes

ROOT = Path(__file__).resolve().parents[1]
# The lecture (320x180, 460 KB) cut with --padding 1 keeps 6-16 s copied from the keyframe at
# 6 s: about 290 KB, and no head is encoded into the destination's folder before the check.
TINY = "128k"


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("disk")
    return make_media(folder / "lecture.mp4", MediaSpec(duration=16, silent_head=7))


@pytest.fixture
def tiny_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 128 KB tmpfs; MIN_FREE_DISK_MB=0 so that the cut's own estimate is what is checked."""
    monkeypatch.setenv("MIN_FREE_DISK_MB", "0")
    get_settings.cache_clear()
    with tmpfs(tmp_path / "tiny", TINY) as folder:
        yield folder


@pytest.fixture
def read_only_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MIN_FREE_DISK_MB", "0")
    get_settings.cache_clear()
    with tmpfs(tmp_path / "ro", TINY, read_only=True) as folder:
        yield folder


def trim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "trim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    return lines[0]


uses_ffmpeg = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


@uses_ffmpeg
def test_a_disk_too_small_for_the_cut_is_refused_before_writing(lecture: Path, tiny_disk: Path):
    out = tiny_disk / "out.mp4"
    result = trim(lecture, out, "--padding", "1")
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert re.fullmatch(
        rf"Error: not enough free space in {re.escape(str(tiny_disk))} for out\.mp4: "
        r"0\.\d MB for the cut needed, 0\.1 MB free; nothing written",
        line,
    ), line
    assert list(tiny_disk.iterdir()) == []


@uses_ffmpeg
def test_the_reserve_is_checked_before_any_work(
    lecture: Path, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MIN_FREE_DISK_MB", "512")
    result = trim(lecture, tiny_disk / "out.mp4")
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr) == (
        f"Error: not enough free space in {tiny_disk} for out.mp4: the 512 MB reserve "
        "(MIN_FREE_DISK_MB) needed, 0.1 MB free; nothing written"
    )
    assert list(tiny_disk.iterdir()) == []


@uses_ffmpeg
def test_a_disk_that_fills_up_while_the_cut_is_written(
    lecture: Path, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
):
    """The check reads plenty of space (as if another writer filled the disk after it), so the
    real writer runs into the real ENOSPC of the tmpfs."""
    monkeypatch.setattr(output, "free_space", lambda folder: 1 << 40)
    out = tiny_disk / "out.mp4"
    result = CliRunner().invoke(main, ["trim", str(lecture), str(out), "--padding", "1"])
    assert result.exit_code == 2, result.output
    assert one_line(result.stderr) == (
        f"Error: cannot write {out}: no space left on the disk of {tiny_disk}; nothing written"
    )
    assert list(tiny_disk.iterdir()) == []  # neither the cut nor its temporary beside it


@uses_ffmpeg
def test_a_read_only_destination(lecture: Path, read_only_disk: Path):
    out = read_only_disk / "out.mp4"
    result = trim(lecture, out, "--padding", "1")
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr) == (
        f"Error: cannot write {out}: {read_only_disk} is on a read-only file system; "
        "nothing written"
    )
    assert list(read_only_disk.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "cause", "exit_code"),
    [
        (errno.EIO, "input/output error on the disk of {folder} (a fault of the disk)", 3),
        (errno.EACCES, "no permission to write in {folder}", 2),
        (errno.ENOSPC, "no space left on the disk of {folder}", 2),
        (errno.EROFS, "{folder} is on a read-only file system", 2),
    ],
)
def test_errors_of_the_system_become_one_line(tmp_path: Path, code: int, cause: str, exit_code):
    """EIO and EACCES (root writes anyway) cannot be provoked on a tmpfs: their wording here."""
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaOutputError) as raised, output_errors(out):
        raise OSError(code, os.strerror(code), str(tmp_path / ".out.x.part"))
    assert str(raised.value) == f"cannot write {out}: {cause.format(folder=tmp_path)}"
    assert raised.value.exit_code == exit_code
    with pytest.raises(MediaOutputError) as raised, output_errors(out):  # FFmpeg's words
        stderr = f"Error writing trailer of {tmp_path}/.out.x.part: {os.strerror(code)}"
        raise FFmpegError("ffmpeg failed", returncode=1, stderr=stderr)
    assert raised.value.errno == code and raised.value.exit_code == exit_code
    reading = FFmpegError("ffmpeg failed", stderr=f"/elsewhere/in.mp4: {os.strerror(code)}")
    with pytest.raises(FFmpegError) as raised_as_is, output_errors(out):  # about the source
        raise reading
    assert raised_as_is.value is reading


def test_a_folder_that_vanished(tmp_path: Path):
    out = tmp_path / "gone" / "out.mp4"
    with pytest.raises(MediaOutputError) as raised, output_errors(out):
        raise FileNotFoundError(errno.ENOENT, "No such file", str(out.parent / ".out.x.part"))
    assert str(raised.value) == f"cannot write {out}: the folder {out.parent} no longer exists"
    assert raised.value.exit_code == 2


def test_the_processing_profiles_check_their_space_before_they_run(lecture: Path, tiny_disk: Path):
    """Loudness copies the video and re-encodes the audio (128 kb/s here); compression
    re-encodes the video too, counted with growth: neither fits 128 KB beside the input."""
    loudness = ProcessingProfiles(loudness={"enabled": True})
    both = ProcessingProfiles(loudness={"enabled": True}, compression={"enabled": True})
    size, duration = lecture.stat().st_size, 16.0
    audio = 128_000 // 8 * 16
    assert estimate_profile_bytes(size, duration, loudness) == size + audio + 2**20
    assert estimate_profile_bytes(size, duration, both) == int(size * 1.5) + audio + 2**20
    out = tiny_disk / "out.profiled.mp4"
    with pytest.raises(InsufficientSpaceError) as refused:
        check_profile_space(lecture, out, duration, both, reserve_mb=0)
    assert str(refused.value).startswith(
        f"not enough free space in {tiny_disk} for out.profiled.mp4: "
        f"{mb(estimate_profile_bytes(size, duration, both))} for the processing profiles "
        "needed, 0.1 MB free"
    ), refused.value
    assert refused.value.waits and list(tiny_disk.iterdir()) == []
