"""Optional profiles: loudness normalization and compression on tiny media."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_factory import MediaSpec, cached_media
from pydantic import ValidationError

from integrations.media.errors import MediaError
from integrations.media.probe import probe
from integrations.media.profiles import (
    CompressionProfile,
    LoudnessProfile,
    ProcessingProfiles,
    apply_profiles,
    measure_loudness,
    parse_loudnorm,
)

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled

# A quiet tone (-30 dBFS), 48 kHz like Zoom's, small picture.
QUIET = MediaSpec(duration=6.0, tone_db=-30.0)


def test_profiles_are_off_by_default(tmp_path: Path) -> None:
    profiles = ProcessingProfiles.model_validate({})
    assert not profiles.enabled
    result = apply_profiles(cached_media(QUIET), tmp_path / "out.mp4", profiles)
    assert result.applied == []
    assert list(tmp_path.iterdir()) == []


def test_profile_models_validate() -> None:
    loaded = ProcessingProfiles.model_validate(
        {"loudness": {"enabled": True, "integrated_lufs": -18}, "compression": {"crf": 28}}
    )
    assert loaded.loudness.integrated_lufs == -18
    assert not loaded.compression.enabled
    with pytest.raises(ValidationError):
        CompressionProfile(preset="warp")
    with pytest.raises(ValidationError):
        LoudnessProfile(integrated_lufs=3)


def test_parse_loudnorm_takes_the_last_block() -> None:
    stderr = """[Parsed_loudnorm_0 @ 0x1]
{
	"input_i" : "-30.10",
	"input_tp" : "-27.00",
	"input_lra" : "0.00",
	"input_thresh" : "-40.10",
	"output_i" : "-16.00",
	"target_offset" : "0.20"
}
"""
    measured = parse_loudnorm(stderr)
    assert measured.input_i == -30.10
    assert measured.target_offset == 0.20
    with pytest.raises(MediaError):
        parse_loudnorm("nothing here")


def test_loudness_normalization_reaches_the_target(tmp_path: Path) -> None:
    source = cached_media(QUIET)
    profile = LoudnessProfile(enabled=True, integrated_lufs=-16.0)
    before = measure_loudness(source, profile, timeout=60)
    assert before.input_i < -25
    result = apply_profiles(source, tmp_path / "loud.mp4", ProcessingProfiles(loudness=profile))
    assert result.applied == ["loudness"]
    after = measure_loudness(tmp_path / "loud.mp4", profile, timeout=60)
    assert after.input_i == pytest.approx(-16.0, abs=1.0)
    out, src = probe(tmp_path / "loud.mp4"), probe(source)
    assert out.audio.sample_rate == src.audio.sample_rate  # not loudnorm's 192 kHz
    assert out.video == src.video  # copied, not re-encoded
    assert out.duration == pytest.approx(src.duration, abs=0.05)


def test_compression_caps_height_and_fps(tmp_path: Path) -> None:
    source = cached_media(MediaSpec(duration=3.0, width=640, height=360, fps=30))
    profiles = ProcessingProfiles(
        compression=CompressionProfile(enabled=True, crf=30, max_height=180, max_fps=15)
    )
    seen: list[float] = []
    result = apply_profiles(source, tmp_path / "small.mp4", profiles, progress=seen.append)
    assert result.applied == ["compression"]
    out = probe(tmp_path / "small.mp4")
    assert (out.video.width, out.video.height) == (320, 180)
    assert float(out.video.fps) == pytest.approx(15, abs=0.5)
    assert out.audio is not None
    assert out.duration == pytest.approx(3.0, abs=0.1)
    assert seen and seen[-1] == 1.0
