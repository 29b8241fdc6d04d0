"""Shapes real recorders write, trimmed with each FFmpeg build and read back by MediaInfo:
Zoom's audio-only M4A (with cover art too), and an MP4 with a timecode track and a second
audio track."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from independent import mediainfo_tracks
from shape_factory import make_audio_only, make_extra_tracks, make_with_cover, samples

from integrations.media.probe import probe
from integrations.media.trim import TrimOptions, trim_file
from integrations.media.verify import source_frame_index_of_first_frame

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled

FRAME = 1 / 25


def test_trim_finds_the_sound_of_an_audio_only_recording_and_cuts_it(tmp_path: Path) -> None:
    # The tone 0.6 s in: the cut 20 ms in (the pre-roll would start before the file).
    source = make_audio_only(tmp_path / "audio_only.m4a", 0.6, 3.2)
    options = TrimOptions(padding=0.58, silence_min_duration=0.4)
    result = trim_file(source, tmp_path / "cut.m4a", options)

    assert result.method == "copy" and result.destination == tmp_path / "cut.m4a"
    assert result.first_sound == pytest.approx(0.6, abs=0.03)
    assert result.start == pytest.approx(result.first_sound - 0.58) and result.start > 0
    assert result.end == pytest.approx(12.0 - 3.2 + 0.58, abs=0.03)
    assert result.how.startswith("audio only (aac): packets copied from 0.1 s before the cut")
    assert "audio only (aac)" in result.summary()
    ours, theirs = samples(result.destination), samples(source)
    first = round(result.start * 48000)
    assert max(abs(ours[i] - theirs[first + i]) for i in range(4096)) < 2e-4
    assert float(mediainfo_tracks(result.destination)["General"][0]["Duration"]) == (
        pytest.approx(result.duration, abs=0.025)
    )


def test_an_audio_only_recording_without_silence_is_left_untouched(tmp_path: Path) -> None:
    source = make_audio_only(tmp_path / "audio_only.m4a", 0.0, 0.0)
    result = trim_file(source, tmp_path / "cut.m4a", TrimOptions())
    assert result.method == "untouched" and result.destination is None
    assert not (tmp_path / "cut.m4a").exists()


def test_extra_tracks_are_named_when_the_cut_leaves_them_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_extra_tracks(tmp_path / "extra.mp4")
    with caplog.at_level(logging.WARNING, logger="integrations.media.trim"):
        result = trim_file(source, tmp_path / "cut.mp4", TrimOptions(padding=0.5))

    assert result.method in ("copy", "smart")
    assert result.dropped == probe(source).extra_streams
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "audio stream #2" in warnings[0] and "timecode stream #3" in warnings[0]
    out = probe(result.destination)
    assert out.extra_streams == () and out.audio is not None and out.video is not None
    assert out.duration == pytest.approx(result.duration, abs=FRAME)
    assert source_frame_index_of_first_frame(source, result.destination, result.start, FRAME) == 0
    tracks = mediainfo_tracks(result.destination)
    assert (len(tracks["Video"]), len(tracks["Audio"]), "Other" in tracks) == (1, 1, False)
    assert float(tracks["Video"][0]["Duration"]) == pytest.approx(result.duration, abs=FRAME)
    assert int(tracks["Video"][0]["FrameCount"]) == round(result.duration / FRAME)


def test_a_cover_picture_is_left_out_saying_so(tmp_path: Path) -> None:
    audio = make_audio_only(tmp_path / "audio_only.m4a", 4.3, 3.2)
    source = make_with_cover(tmp_path / "with_cover.m4a", audio)
    result = trim_file(source, tmp_path / "cut.m4a", TrimOptions(padding=1.0))
    assert result.method == "copy"
    assert result.dropped == ("cover picture stream #1 (64x64)",)
    assert probe(result.destination).extra_streams == ()
