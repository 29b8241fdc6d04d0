"""`zoom-publisher trim INPUT OUTPUT`: the processing core on any local file, without Prefect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from media_factory import MediaSpec, make_media

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("trim")
    return {
        "lecture": make_media(folder / "lecture.mp4", MediaSpec(duration=16, silent_head=7)),
        "silent": make_media(folder / "silent.mp4", MediaSpec(duration=6, silent=True)),
    }


def trim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "trim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_trim_cuts_a_local_file_and_reports_the_span(clips: dict[str, Path], tmp_path: Path):
    out = tmp_path / "cut.mp4"
    result = trim(str(clips["lecture"]), str(out), "--padding", "2")
    assert result.returncode == 0, result.stderr
    assert "kept 5.000-16.000 s" in result.stdout.replace("\n", " ")
    assert out.is_file() and "prefect" not in result.stderr.lower()


def test_trim_of_a_file_without_sound_writes_nothing(clips: dict[str, Path], tmp_path: Path):
    out = tmp_path / "none.mp4"
    result = trim(str(clips["silent"]), str(out))
    assert result.returncode == 3
    assert "no sound" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_trim_of_a_file_that_is_not_media_fails_clearly(tmp_path: Path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    result = trim(str(bogus), str(tmp_path / "out.mp4"))
    assert result.returncode == 1
    assert "notes.mp4" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.mp4").exists()
