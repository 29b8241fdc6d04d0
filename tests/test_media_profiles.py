"""Optional profiles: loudness normalization and compression on tiny media."""

from __future__ import annotations

import logging
import stat
import struct
import subprocess
from pathlib import Path

import pytest
from media_factory import MediaSpec, cached_media
from pydantic import ValidationError
from shape_factory import make_audio_only, make_extra_tracks

from integrations.media.capabilities import inspect_ffmpeg
from integrations.media.errors import MediaError
from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.probe import probe
from integrations.media.profiles import (
    CompressionProfile,
    LoudnessGain,
    LoudnessMeasurement,
    LoudnessProfile,
    ProcessingProfiles,
    apply_profiles,
    measure_loudness,
    parse_ebur128,
    plan_gain,
)

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled

# A quiet tone (-30 dBFS), 48 kHz like Zoom's, small picture.
QUIET = MediaSpec(duration=6.0, tone_db=-30.0)
# A -20 dBFS tone with a 10 ms click at -6 dBFS: the gain to -16 LUFS lifts the click past 0 dB.
PEAKY = MediaSpec(duration=6.0, tone_db=-20.0, coughs=((2.0, 0.01),))


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
    with pytest.raises(ValidationError):
        LoudnessProfile(peak_headroom_db=-1)


# What `ebur128=peak=true` logs at the end: a summary per filter instance; digital silence
# has -70 LUFS (nothing passes the gate) and a -inf peak.
EBUR128_SUMMARIES = """[Parsed_ebur128_0 @ 0x1] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  True peak:
    Peak:       -inf dBFS
[Parsed_ebur128_0 @ 0x2] Summary:

  Integrated loudness:
    I:         -34.8 LUFS
    Threshold: -44.8 LUFS

  Loudness range:
    LRA:         0.6 LU

  True peak:
    Peak:      -20.8 dBFS
"""


def test_parse_ebur128_reads_the_last_summary() -> None:
    assert parse_ebur128(EBUR128_SUMMARIES) == LoudnessMeasurement(-34.8, -20.8)
    silence = parse_ebur128(EBUR128_SUMMARIES.split("[Parsed_ebur128_0 @ 0x2]")[0])
    assert silence.silent and silence.true_peak == float("-inf")
    with pytest.raises(MediaError):
        parse_ebur128("[Parsed_ebur128_0 @ 0x1] Summary:\n  Integrated loudness:\n")


def test_plan_gain_limits_only_what_would_pass_the_ceiling() -> None:
    profile = LoudnessProfile(integrated_lufs=-16, true_peak_db=-1.5, peak_headroom_db=2)
    assert plan_gain(profile, LoudnessMeasurement(-30.0, -20.0)) == LoudnessGain(14.0, None)
    assert plan_gain(profile, LoudnessMeasurement(-30.0, -17.0)) == LoudnessGain(14.0, -3.5)
    assert plan_gain(profile, LoudnessMeasurement(-70.0, float("-inf"))) == LoudnessGain(0, None)


def test_loudness_normalization_reaches_the_target(tmp_path: Path) -> None:
    source = cached_media(QUIET)
    profile = LoudnessProfile(enabled=True, integrated_lufs=-16.0)
    before = measure_loudness(source, timeout=60)
    assert before.integrated < -25
    result = apply_profiles(source, tmp_path / "loud.mp4", ProcessingProfiles(loudness=profile))
    assert result.applied == ["loudness"]
    assert result.gain is not None and result.gain.ceiling_db is None  # the tone needs no limit
    after = measure_loudness(tmp_path / "loud.mp4", timeout=60)
    assert after.integrated == pytest.approx(-16.0, abs=1.0)
    assert after.true_peak <= profile.true_peak_db
    out, src = probe(tmp_path / "loud.mp4"), probe(source)
    assert out.audio.sample_rate == src.audio.sample_rate
    assert out.video == src.video  # copied, not re-encoded
    assert out.duration == pytest.approx(src.duration, abs=0.05)


def test_loud_peaks_are_limited_under_the_true_peak_target(tmp_path: Path) -> None:
    source = cached_media(PEAKY)
    profile = LoudnessProfile(enabled=True, integrated_lufs=-16.0, true_peak_db=-1.5)
    before = measure_loudness(source, timeout=60)
    assert before.true_peak + (profile.integrated_lufs - before.integrated) > 0  # would clip
    result = apply_profiles(source, tmp_path / "loud.mp4", ProcessingProfiles(loudness=profile))
    assert result.gain is not None and result.gain.ceiling_db == -3.5
    after = measure_loudness(tmp_path / "loud.mp4", timeout=60)
    assert after.integrated == pytest.approx(-16.0, abs=1.0)
    assert after.true_peak <= profile.true_peak_db
    assert probe(tmp_path / "loud.mp4").duration == pytest.approx(probe(source).duration, abs=0.05)


def _pcm(chain: str, tmp_path: Path) -> list[float]:
    """Mono float samples of a quiet tone with a loud burst at 0.5 s, through `chain`."""
    tone = "aevalsrc='0.05*sin(2*PI*440*t)+0.6*sin(2*PI*1000*t)*between(t,0.5,0.52)':s=32000:d=1"
    out = tmp_path / "out.raw"
    cmd = [ffmpeg_binary(), "-v", "error", "-y", "-f", "lavfi", "-i", tone, "-af", chain]
    subprocess.run([*cmd, "-f", "f32le", "-c:a", "pcm_f32le", str(out)], check=True, timeout=60)
    data = out.read_bytes()
    return list(struct.unpack(f"<{len(data) // 4}f", data))


def test_the_limiter_holds_the_ceiling_without_delaying_the_sound(tmp_path: Path) -> None:
    limited = _pcm(LoudnessGain(14.0, -3.5).filters(), tmp_path)
    plain = _pcm(LoudnessGain(14.0, None).filters(), tmp_path)
    assert len(limited) == len(plain) == 32000
    assert max(abs(x) for x in limited) <= 10 ** (-3.5 / 20) + 1e-6
    assert max(abs(x) for x in plain) > 1.0
    # Up to the limiter's look-ahead (5 ms) before the burst the samples are the same, in place:
    # a delayed output (the limiter's latency not compensated) would differ everywhere.
    before_burst = int(0.49 * 32000)
    assert limited[:before_burst] == pytest.approx(plain[:before_burst], abs=1e-6)


def test_a_build_without_the_limiters_delay_compensation_is_reported(tmp_path: Path) -> None:
    real = ffmpeg_binary()
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$*" = "-h full" ]; then "{real}" "$@" | grep -v "compensate delay"; exit 0; fi\n'
        f'exec "{real}" "$@"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert inspect_ffmpeg(real).usable
    missing = inspect_ffmpeg(str(fake)).missing
    assert missing == ("the alimiter filter's delay compensation (loudness limiting)",)


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


def test_streams_beyond_the_first_video_and_audio_are_named_when_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_extra_tracks(tmp_path / "extra.mp4")
    profiles = ProcessingProfiles(loudness=LoudnessProfile(enabled=True))
    with caplog.at_level(logging.WARNING, logger="integrations.media.profiles"):
        result = apply_profiles(source, tmp_path / "loud.mp4", profiles)
    assert result.dropped == probe(source).extra_streams and len(result.dropped) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and all(stream in warnings[0] for stream in result.dropped)
    assert probe(tmp_path / "loud.mp4").extra_streams == ()


def test_an_audio_only_file_gets_its_loudness_and_no_compression(tmp_path: Path) -> None:
    source = make_audio_only(tmp_path / "audio_only.m4a", 4.3, 3.2)
    profiles = ProcessingProfiles(
        loudness=LoudnessProfile(enabled=True), compression=CompressionProfile(enabled=True)
    )
    result = apply_profiles(source, tmp_path / "loud.m4a", profiles)
    assert result.applied == ["loudness"]
    out = probe(tmp_path / "loud.m4a")
    assert out.video is None and out.duration == pytest.approx(12.0, abs=0.05)
    assert measure_loudness(tmp_path / "loud.m4a", timeout=60).integrated == pytest.approx(
        -16.0, abs=1.0
    )
