"""`zoom-publisher trim INPUT OUTPUT`: the processing core on any local file, without Prefect."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from media_factory import MediaSpec, make_media, read_independently

from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.verify import source_frame_index_of_first_frame

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
    assert re.fullmatch(
        rf"{re.escape(str(out))}: kept 5\.000-16\.000 s of 16\.0\d\d s in \d+\.\d\d s: "
        r"\d+ frames re-encoded up to the keyframe, the rest copied, "
        r"written from the source's index\n",
        result.stdout,
    ), result.stdout  # one line, however narrow the terminal
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


def test_trim_of_an_open_gop_recording(tmp_path: Path):
    """The issue's reproduction, smaller: x264 `open_gop`, pink noise under 12.3 s of near
    silence; the cut at 7.32 s re-encodes up to the keyframe at 8 s, which is no IDR picture."""
    source = tmp_path / "open.mp4"
    noise = (
        "anoisesrc=color=pink:amplitude=0.3:sample_rate=32000:duration=40:seed=11,"
        "volume=volume=0.0007:enable='lt(t,12.3)+gt(t,33.37)'"
    )
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-filter_complex",
         f"testsrc2=size=320x240:rate=25:duration=40[v];{noise}[a]",
         "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast", "-g", "50",
         "-keyint_min", "50", "-sc_threshold", "0", "-x264-params", "open_gop=1",
         "-c:a", "aac", "-ac", "1", "-movflags", "+faststart", str(source)],
        check=True, timeout=120,
    )  # fmt: skip
    out = tmp_path / "cut.mp4"
    result = trim(str(source), str(out))
    assert result.returncode == 0, result.stderr
    assert "kept 7.320-" in result.stdout
    assert "open GOP: the keyframe at 8.000 s made an IDR picture" in result.stdout
    assert source_frame_index_of_first_frame(source, out, 7.32, 0.04) == 0
    reading = read_independently(out)
    assert reading.errors == [] and reading.decoded == reading.frames


def test_trim_of_a_truncated_file_names_it(clips: dict[str, Path], tmp_path: Path):
    source = tmp_path / "cut-off.mp4"
    source.write_bytes(clips["lecture"].read_bytes()[:100_000])
    result = trim(str(source), str(tmp_path / "out.mp4"))
    assert result.returncode == 1
    assert "cut-off.mp4 is truncated: its index lists data up to byte" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut-off.mp4"]
