"""A still picture over an audio-only recording: the video that publishes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from independent import mediainfo_tracks
from shape_factory import ffmpeg, make_audio_only

from integrations.media.errors import UnsupportedMediaError
from integrations.media.picture import still_video
from integrations.media.probe import probe
from integrations.media.verify import moov_before_mdat

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


def test_the_picture_shows_for_as_long_as_the_sound_plays(tmp_path: Path) -> None:
    picture = tmp_path / "course.png"  # odd sizes: the video's must be even
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=321x181", "-frames:v", "1", str(picture))
    audio = make_audio_only(tmp_path / "audio_only.m4a", 4.3, 3.2)
    seen: list[float] = []
    still_video(picture, audio, tmp_path / "video.mp4", seen.append)

    info, sound = probe(tmp_path / "video.mp4"), probe(audio)
    assert info.video is not None and (info.video.width, info.video.height) == (320, 180)
    assert info.video.fps == 1
    assert info.audio == sound.audio  # copied
    assert info.audio_duration == pytest.approx(sound.duration, abs=1e-3)
    assert sound.duration <= info.video_duration <= sound.duration + 1.0
    assert moov_before_mdat(tmp_path / "video.mp4")
    assert seen and seen[-1] == 1.0
    tracks = mediainfo_tracks(tmp_path / "video.mp4")
    assert [t["Format"] for t in tracks["Video"]] == ["AVC"]
    assert [t["Format"] for t in tracks["Audio"]] == ["AAC"]
    assert int(tracks["Video"][0]["FrameCount"]) == 12


def test_a_file_without_sound_is_refused(tmp_path: Path) -> None:
    picture, silent = tmp_path / "course.png", tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", str(picture))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:duration=2", str(silent))
    with pytest.raises(UnsupportedMediaError, match=r"silent\.mp4 has no audio"):
        still_video(picture, silent, tmp_path / "video.mp4")
    assert not (tmp_path / "video.mp4").exists()
