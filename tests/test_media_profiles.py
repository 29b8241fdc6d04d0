"""Optional profiles: loudness normalization and compression on tiny media."""

from __future__ import annotations

import logging
import re
import stat
import struct
import subprocess
from pathlib import Path

import av
import pytest
from independent import gstreamer_audio
from media_factory import MediaSpec, cached_media
from pydantic import ValidationError
from shape_factory import make_audio_only, make_extra_tracks

from config.processing import CompressionProfile, LoudnessProfile, ProcessingProfiles
from integrations.media.capabilities import inspect_ffmpeg
from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.loudness import LoudnessGain, LoudnessMeasurement, plan_gain
from integrations.media.probe import probe
from integrations.media.profiles import apply_profiles

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


def loudness_of(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of `path`'s audio, as FFmpeg's `ebur128`
    measures them in one run (not the code under test)."""
    cmd = [
        ffmpeg_binary(),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-i",
        str(path),
        "-map",
        "0:a:0",
    ]
    cmd += ["-af", "ebur128=peak=true", "-f", "null", "-"]
    summary = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stderr
    summary = summary.rpartition("Summary:")[2]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated is not None and peak is not None, summary
    return float(integrated.group(1)), float(peak.group(1))


def test_plan_gain_limits_only_what_would_pass_the_ceiling() -> None:
    profile = LoudnessProfile(integrated_lufs=-16, true_peak_db=-1.5, peak_headroom_db=2)
    assert plan_gain(profile, LoudnessMeasurement(-30.0, -20.0)) == LoudnessGain(14.0, None)
    assert plan_gain(profile, LoudnessMeasurement(-30.0, -17.0)) == LoudnessGain(14.0, -3.5)
    # The sample peak is printed to a tenth of a dB: one that may pass the ceiling is limited.
    assert plan_gain(profile, LoudnessMeasurement(-30.0, -17.5)) == LoudnessGain(14.0, -3.5)
    assert plan_gain(profile, LoudnessMeasurement(-30.0, -17.6)) == LoudnessGain(14.0, None)
    assert plan_gain(profile, LoudnessMeasurement(-70.0, float("-inf"))) == LoudnessGain(0, None)


def test_loudness_normalization_reaches_the_target(tmp_path: Path) -> None:
    source = cached_media(QUIET)
    profile = LoudnessProfile(enabled=True, integrated_lufs=-16.0)
    assert loudness_of(source)[0] < -25
    result = apply_profiles(source, tmp_path / "loud.mp4", ProcessingProfiles(loudness=profile))
    assert result.applied == ["loudness"]
    assert result.gain is not None and result.gain.ceiling_db is None  # the tone needs no limit
    integrated, true_peak = loudness_of(tmp_path / "loud.mp4")
    assert integrated == pytest.approx(-16.0, abs=1.0)
    assert true_peak <= profile.true_peak_db
    out, src = probe(tmp_path / "loud.mp4"), probe(source)
    assert out.audio.sample_rate == src.audio.sample_rate
    assert out.video == src.video  # copied, not re-encoded
    assert out.duration == pytest.approx(src.duration, abs=0.05)


def test_loud_peaks_are_limited_under_the_true_peak_target(tmp_path: Path) -> None:
    source = cached_media(PEAKY)
    profile = LoudnessProfile(enabled=True, integrated_lufs=-16.0, true_peak_db=-1.5)
    integrated, true_peak = loudness_of(source)
    assert true_peak + (profile.integrated_lufs - integrated) > 0  # would clip
    result = apply_profiles(source, tmp_path / "loud.mp4", ProcessingProfiles(loudness=profile))
    assert result.gain is not None and result.gain.ceiling_db == -3.5
    integrated, true_peak = loudness_of(tmp_path / "loud.mp4")
    assert integrated == pytest.approx(-16.0, abs=1.0)
    assert true_peak <= profile.true_peak_db
    assert probe(tmp_path / "loud.mp4").duration == pytest.approx(probe(source).duration, abs=0.05)


BURST = "0.05*sin(2*PI*440*t)+0.6*sin(2*PI*1000*t)*between(t,0.5,0.52)"


def _pcm(chain: str, tmp_path: Path, sound: str = BURST) -> list[float]:
    """Mono float samples of `sound` (a quiet tone with a loud burst at 0.5 s), through `chain`."""
    tone = f"aevalsrc='{sound}':s=32000:d=1"
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


def test_the_limiter_leaves_samples_under_its_limit_as_they_are(tmp_path: Path) -> None:
    # Why the need for it is decided on the sample peak, not the true peak: samples that stay
    # under the ceiling come out the same with the limiter as without it.
    tone = "0.3*sin(2*PI*3000*t+0.4)"  # peaks between samples, none past -3.5 dBFS after +3 dB
    limited = _pcm(LoudnessGain(3.0, -3.5).filters(), tmp_path, tone)
    assert limited == _pcm(LoudnessGain(3.0, None).filters(), tmp_path, tone)
    assert max(map(abs, limited)) < 10 ** (-3.5 / 20)


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
    assert loudness_of(tmp_path / "loud.m4a")[0] == pytest.approx(-16.0, abs=1.0)


# A tone over a little noise with a loud 20 ms burst every 1.3 s (the limiter's work).
SPEECH = "0.03*sin(2*PI*440*t)+0.004*(2*random(0)-1)+0.3*sin(2*PI*1000*t)*lt(mod(t,1.3),0.02)"


def _late_audio(path: Path) -> Path:
    """12 s of picture, with 11 s of sound that starts half a second after it."""
    cmd = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y"]
    cmd += ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=12", "-itsoffset", "0.5"]
    cmd += ["-f", "lavfi", "-i", f"aevalsrc='{SPEECH}':s=32000:c=mono:d=11"]
    cmd += ["-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast"]
    cmd += ["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return path


def _ffmpeg_out(*args: str) -> bytes:
    cmd = [ffmpeg_binary(), "-nostdin", "-v", "error", *args]
    return subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout


def _first_audio_frame(path: Path) -> float:
    with av.open(str(path)) as container:
        frame = next(container.decode(audio=0))
        assert frame.time is not None
        return frame.time


def test_audio_in_pieces_keeps_the_video_the_sync_and_the_loudness(tmp_path: Path) -> None:
    source = _late_audio(tmp_path / "late.mp4")
    profile = LoudnessProfile(enabled=True)
    outputs = {}
    for pieces in (1, 2):
        out = tmp_path / f"{pieces}.mp4"
        result = apply_profiles(
            source, out, ProcessingProfiles(loudness=profile), audio_pieces=pieces
        )
        assert result.audio_pieces == pieces
        outputs[pieces] = out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.mp4", "2.mp4", "late.mp4"]
    assert result.gain is not None and result.gain.ceiling_db is not None
    # One piece gives exactly what one FFmpeg pass through the same filters gives.
    one_pass = tmp_path / "one_pass.mp4"
    _ffmpeg_out(
        "-i", str(source), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-af",
        result.gain.filters(), "-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k", str(one_pass),
    )  # fmt: skip
    decoded = {
        name: _ffmpeg_out("-i", str(path), "-map", "0:a", "-f", "f32le", "-")
        for name, path in (("one pass", one_pass), *outputs.items())
    }
    assert decoded[1] == decoded["one pass"]
    assert len(decoded[2]) == len(decoded[1]) and decoded[2] != decoded[1]
    # The sound starts where it did, against the picture, which is copied packet for packet.
    starts = {_first_audio_frame(path) for path in (one_pass, *outputs.values())}
    assert len(starts) == 1
    video = _ffmpeg_out("-i", str(source), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-")
    assert (
        _ffmpeg_out("-i", str(outputs[2]), "-map", "0:v", "-c", "copy", "-f", "framemd5", "-")
        == video
    )
    # As loud as one piece (the limiter takes the bursts' loudness: both are under -16 LUFS).
    integrated, true_peak = loudness_of(outputs[2])
    assert integrated == pytest.approx(loudness_of(outputs[1])[0], abs=0.2)
    assert true_peak <= profile.true_peak_db
    # An MP4 demuxer and AAC decoder that are not FFmpeg's read all of the joined sound.
    assert len(gstreamer_audio(outputs[2], tmp_path / "gst.raw", 1)) * 4 == len(decoded[2])
