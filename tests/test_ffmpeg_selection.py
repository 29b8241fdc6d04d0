"""Which FFmpeg runs: FFMPEG_BINARY, PATH's when it can cut, else the bundled build."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from media_factory import MediaSpec, make_media

from config.settings import get_settings
from integrations.media.capabilities import (
    MINIMUM_VERSION,
    UnsupportedFFmpegError,
    inspect_ffmpeg,
    parse_release,
)
from integrations.media.ffmpeg import bundled_ffmpeg, selected_ffmpeg

# An FFmpeg too old for the cut: it answers `-h full` like 3.4 did (no -enc_time_base,
# no -fps_mode) and refuses the options the probe encode uses.
OLD_FFMPEG = """#!/bin/sh
echo "ffmpeg version 3.4.11 Copyright (c) 2000-2022 the FFmpeg developers" >&2
case "$*" in
  "-h full") printf 'Main options:\\n-vsync  video sync method\\n'; exit 0 ;;
  *) echo "Unrecognized option 'fps_mode'." >&2; exit 1 ;;
esac
"""


def old_ffmpeg(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ffmpeg"
    path.write_text(OLD_FFMPEG)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.mark.parametrize(
    ("banner", "release"),
    [
        ("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026", (5, 1)),
        ("ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright", (4, 4)),
        ("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright", (9, 0)),
        ("ffmpeg version 7.1 Copyright", (7, 1)),
        ("ffmpeg version N-118496-g5f7f3ea Copyright", None),
    ],
)
def test_release_is_read_from_the_banner(banner: str, release: tuple[int, int] | None) -> None:
    assert parse_release(banner)[1] == release


def test_the_bundled_build_can_cut() -> None:
    bundled = inspect_ffmpeg(bundled_ffmpeg())
    assert bundled.usable, bundled.missing
    assert bundled.release is not None and bundled.release >= (7, 0)
    assert bundled.passthrough_timestamps() == ["-fps_mode", "passthrough"]
    assert bundled.keep_source_time_base() == ["-enc_time_base:v", "demux"]


@pytest.mark.usefixtures("ffmpeg_build")
def test_the_chosen_build_is_usable_with_the_options_its_version_takes() -> None:
    chosen = selected_ffmpeg()
    assert chosen.usable, chosen.missing
    assert chosen.release is None or chosen.release >= MINIMUM_VERSION
    # FFmpeg 7 renamed the source time base "-1" to "demux"; 9 no longer takes "-1".
    if chosen.release is not None and chosen.release < (7, 0):
        assert chosen.source_time_base == "-1"
    if chosen.release is not None and chosen.release >= (8, 0):
        assert chosen.source_time_base == "demux"


def test_an_old_build_is_reported_with_what_it_lacks(tmp_path: Path) -> None:
    old = inspect_ffmpeg(str(old_ffmpeg(tmp_path / "old")))
    assert not old.usable
    assert old.version == "3.4.11"
    assert old.missing[0] == "version 4.2 or newer"
    assert any("libx264" in need for need in old.missing)


def test_ffmpeg_binary_that_cannot_cut_is_an_error_naming_version_and_minimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", str(old_ffmpeg(tmp_path / "old")))
    with pytest.raises(UnsupportedFFmpegError, match=r"3\.4\.11.*FFmpeg 4\.2 with libx264"):
        selected_ffmpeg()


def test_path_build_that_cannot_cut_gives_way_to_the_bundled_one_saying_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old = old_ffmpeg(tmp_path / "bin")
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    assert shutil.which("ffmpeg") == str(old)
    with caplog.at_level(logging.WARNING, logger="integrations.media.ffmpeg"):
        first = selected_ffmpeg()
        second = selected_ffmpeg()
    assert first.path == second.path == bundled_ffmpeg()
    lines = [r for r in caplog.records if "using the bundled FFmpeg" in r.getMessage()]
    assert len(lines) == 1
    assert "3.4.11" in lines[0].getMessage()


def test_trim_with_an_unusable_ffmpeg_binary_exits_2_and_touches_nothing(tmp_path: Path) -> None:
    source = make_media(tmp_path / "in.mp4", MediaSpec(duration=4.0, silent_head=1.0))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "FFMPEG_BINARY": str(old_ffmpeg(tmp_path / "old"))}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "trim", str(source), str(out_dir / "cut.mp4")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 2, done.stderr
    assert "3.4.11" in done.stderr and "FFmpeg 4.2 with libx264" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert list(out_dir.iterdir()) == []


def test_process_run_with_an_unusable_ffmpeg_fails_before_claiming_anything(
    prefect_harness: None, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factories import add_recording

    from flows.process import process_flow
    from integrations.store.states import ProcessingStatus

    source = make_media(tmp_path / "lecture.mp4", MediaSpec(duration=4.0, silent_head=1.0))
    row = add_recording(store, status=ProcessingStatus.DOWNLOADED, source_path=str(source))
    monkeypatch.setenv("FFMPEG_BINARY", str(old_ffmpeg(tmp_path / "old")))
    get_settings.cache_clear()
    selected_ffmpeg.cache_clear()
    state = process_flow(return_state=True)
    assert state.is_failed() and "3.4.11" in state.message
    after = store.get(row.id)
    assert after.status == ProcessingStatus.DOWNLOADED and after.claimed_by is None
    assert after.status_reason is None
