"""What probing says about the streams beyond the first video and audio: each one named."""

from __future__ import annotations

from pathlib import Path

import pytest
from shape_factory import make_audio_only, make_extra_tracks, make_with_cover

from integrations.media.probe import probe

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


def test_a_second_audio_track_and_a_timecode_track_are_described(tmp_path: Path) -> None:
    info = probe(make_extra_tracks(tmp_path / "extra.mp4"))
    assert info.video is not None and info.audio is not None
    assert (info.audio.sample_rate, info.video.width) == (48000, 320)  # the first of each
    assert info.extra_streams == (
        'audio stream #2 (aac, 32000 Hz, mono, language fra, "Interpreter")',
        "timecode stream #3 (starts 01:00:00:00, language eng)",
    )


def test_a_cover_picture_is_not_taken_for_video(tmp_path: Path) -> None:
    audio = make_audio_only(tmp_path / "audio_only.m4a", 4.3, 3.2)
    info = probe(make_with_cover(tmp_path / "with_cover.m4a", audio))
    assert info.video is None and info.audio is not None
    assert info.extra_streams == ("cover picture stream #1 (64x64)",)


def test_a_plain_recording_has_no_extra_streams(tmp_path: Path) -> None:
    assert probe(make_audio_only(tmp_path / "audio_only.m4a", 4.3, 3.2)).extra_streams == ()
